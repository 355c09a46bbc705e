"""`pip install ./bindings/python` gives a package that finds the library
bundled at build time, and says where it looked when it cannot."""

import os
import pathlib
import subprocess
import sys
import venv

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_pip_install_bundles_the_library(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENCLIENT_LIBRARY", "PYTHONPATH")}
    env["TOKENCLIENT_LIBRARY"] = os.environ.get("TOKENCLIENT_LIBRARY", str(REPO / "target/release/libtokenclient.so"))
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps", str(REPO / "bindings/python")],
        check=True, env=env, cwd=tmp_path,
    )
    del env["TOKENCLIENT_LIBRARY"]
    probe = "import tokenclient, pathlib; print(tokenclient.version()); print(pathlib.Path(tokenclient.__file__).parent)"
    out = subprocess.run([python, "-c", probe], check=True, env=env, cwd=tmp_path, capture_output=True, text=True)
    version, where = out.stdout.split()
    assert version == "0.1.0"
    assert (pathlib.Path(where) / "libtokenclient.so").is_file()
    assert (pathlib.Path(where) / "py.typed").is_file()

    env["TOKENCLIENT_LIBRARY"] = "/nonexistent/libtokenclient.so"
    out = subprocess.run([python, "-c", "import tokenclient"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0
    assert "ImportError" in out.stderr and "/nonexistent/libtokenclient.so" in out.stderr
