//! One libcurl POST whose body libcurl reads in place.
//!
//! `CURLOPT_COPYPOSTFIELDS` (the curl crate's `post_fields_copy`) would copy
//! the body, which may hold a client secret or an assertion, into memory
//! that libcurl frees without wiping; a read callback avoids that but makes
//! libcurl send the headers and the body in two writes, which costs the
//! server a second wake-up per request (it halved the exchange rate on
//! loopback). `CURLOPT_POSTFIELDS` points libcurl at the caller's buffer:
//! one write, no copy. The pointer is set only for the duration of one
//! `curl_easy_perform` on a borrowed body, and cleared before returning.
#![allow(unsafe_code)]

use curl::easy::{Easy2, Handler};

/// POSTs `body` on `easy` (headers and body in one write when they fit).
pub(crate) fn perform_post<H: Handler>(
    easy: &mut Easy2<H>,
    body: &[u8],
) -> Result<(), curl::Error> {
    let handle = easy.raw();
    let size = curl_sys::curl_off_t::try_from(body.len())
        .map_err(|_| curl::Error::new(curl_sys::CURLE_BAD_FUNCTION_ARGUMENT))?;
    // SAFETY: `handle` is the live handle owned by `easy`, which this
    // function borrows mutably; `body` outlives the perform below, and the
    // pointer is cleared before `body`'s borrow ends, so libcurl never reads
    // it afterwards. The options take a pointer and a curl_off_t.
    unsafe {
        check(curl_sys::curl_easy_setopt(
            handle,
            curl_sys::CURLOPT_POSTFIELDSIZE_LARGE,
            size,
        ))?;
        check(curl_sys::curl_easy_setopt(
            handle,
            curl_sys::CURLOPT_POSTFIELDS,
            body.as_ptr(),
        ))?;
    }
    let result = easy.perform();
    // SAFETY: as above; a NULL body with size 0 is an empty POST.
    unsafe {
        curl_sys::curl_easy_setopt(handle, curl_sys::CURLOPT_POSTFIELDS, std::ptr::null::<u8>());
        curl_sys::curl_easy_setopt(
            handle,
            curl_sys::CURLOPT_POSTFIELDSIZE_LARGE,
            0 as curl_sys::curl_off_t,
        );
    }
    result
}

fn check(code: curl_sys::CURLcode) -> Result<(), curl::Error> {
    if code == curl_sys::CURLE_OK {
        Ok(())
    } else {
        Err(curl::Error::new(code))
    }
}
