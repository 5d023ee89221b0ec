"""Benchmark: the web server's memory when an analyst uploads a zip that inflates to 512 MB.

Starts `hotspots serve` (waitress) on loopback with an empty store, uploads over real HTTP a zip
of one police.uk CSV member of the same valid rows repeated to 512 MB (about 2 MB zipped, the
shape of the probe in issue 19), and prints the server's peak resident memory (VmHWM) next to the
1 GB target and the refusal the page shows. Run twice: with the default settings (refused by the
compression ratio while the member inflates) and with `upload_max_ratio` raised so that the rows
are read until the row limit (`upload_max_rows`, one million) stops them.

    python benchmarks/upload_memory.py [--inflate-mb 512]
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

from web_load import free_port, wait_for_server  # benchmarks/web_load.py, beside this

TARGET_MB = 1024
PASSWORD = "bench-password-not-secret"  # a throwaway account in a throwaway instance folder
ROW = ("{id},2025-05,West Yorkshire Police,West Yorkshire Police,-1.530000,53.790000,"
       "On or near Roundhay Road,E01011365,Leeds 111B,Violence and sexual offences,"
       "Under investigation,\n")
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context\n")


def make_zip(path: Path, inflate_mb: int) -> None:
    block = "".join(ROW.format(id=f"{i:064x}") for i in range(16)).encode() * 256
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("2025-05/2025-05-west-yorkshire-street.csv", "w", force_zip64=True) as out:
        out.write(HEADER.encode())
        written = 0
        while written < inflate_mb * 2**20:
            out.write(block)
            written += len(block)


#: The repository: the server and the set-up run from there, where `routing` is the package (in
#: benchmarks/ it would be the routing benchmark beside this script).
ROOT = Path(__file__).resolve().parent.parent


def prepare(home: Path) -> None:
    """An analyst account in a fresh instance folder."""
    code = ("from webapp import create_app\n"
            "from webapp.auth import create_user\n"
            "from webapp.db import db_session\n"
            f"app = create_app({{'HOME': {str(home)!r}, 'BOOTSTRAP': False}})\n"
            "with app.app_context():\n"
            f"    create_user(db_session(), 'bench', 'analyst', password={PASSWORD!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _form(conn: http.client.HTTPConnection, path: str, cookies: dict) -> str:
    """GET a page; keep its cookies; return its CSRF token."""
    conn.request("GET", path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    page = conn.getresponse()
    text = page.read().decode()
    for header in page.headers.get_all("Set-Cookie") or []:
        name, value = header.split(";", 1)[0].split("=", 1)
        cookies[name] = value
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text).group(1)


def upload(port: int, path: Path) -> tuple[int, str, float]:
    """Log in as the analyst and upload `path` on the Data page, as a browser does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    cookies: dict[str, str] = {}
    token = _form(conn, "/login", cookies)
    form = f"username=bench&password={PASSWORD}&csrf_token={token}"
    conn.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    answer = conn.getresponse()
    answer.read()
    for header in answer.headers.get_all("Set-Cookie") or []:
        name, value = header.split(";", 1)[0].split("=", 1)
        cookies[name] = value
    token = _form(conn, "/data/", cookies)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    boundary = uuid.uuid4().hex
    fields = {"csrf_token": token, "format": "auto"}
    head = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   for k, v in fields.items())
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"{path.name}\"\r\nContent-Type: application/zip\r\n\r\n")
    body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    start = time.perf_counter()
    conn.request("POST", "/data/", body=body, headers={
        "Cookie": cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = conn.getresponse()
    text = response.read().decode()
    seconds = time.perf_counter() - start
    found = re.search(r"refused; nothing was stored\.(.*?)</", text, re.S)
    message = re.search(r"(bomb\.zip[^<]*)", text)
    shown = html.unescape(message.group(1)).strip() if message else (found.group(0) if found else "")
    if not shown:
        body_text = re.sub(r"<[^>]+>", " ", text)
        shown = " ".join(body_text.split())[:300]
    return response.status, shown, seconds


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(home: Path, zipped: Path, env_extra: dict[str, str]) -> tuple[int, str, float, float, float]:
    port = free_port()
    env = {**os.environ, "HOTSPOTS_HOME": str(home), **env_extra}
    cmd = [sys.executable, "-c", "from webapp.cli import main; main()", "--home", str(home),
           "serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(home / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            wait_for_server(port, proc)
            before = peak_mb(proc.pid)
            status, message, seconds = upload(port, zipped)
            return status, message, seconds, before, peak_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inflate-mb", type=int, default=512)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="upload-memory-"))
    try:
        zipped = home / "bomb.zip"
        make_zip(zipped, args.inflate_mb)
        print(f"zip: {zipped.stat().st_size / 2**20:.1f} MB, inflates to {args.inflate_mb} MB")
        prepare(home)
        ok = True
        for label, env in (("default limits", {}),
                           ("upload_max_ratio raised", {"HOTSPOTS_UPLOAD_MAX_RATIO": "100000"})):
            status, message, seconds, idle, peak = run(home, zipped, env)
            ok &= status == 400 and peak < TARGET_MB
            print(f"{label}: HTTP {status} after {seconds:.1f} s; server peak RSS {peak:.0f} MB "
                  f"(idle {idle:.0f} MB; target < {TARGET_MB} MB, {peak / TARGET_MB:.2f}x)")
            print(f"    refusal: {message}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
