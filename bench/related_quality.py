"""Related-news quality on real articles: recall@8 and MRR@20 through the service's own API.

Starts `python -m service serve` on a free port with a fresh DATA_DIR (its embedded redis-server and
SQLite file), loads the evaluation set with the evaluator's service mode (POST /v1/articles/bulk, then
GET /v1/articles/{id}/related?limit=20 for every judged query) and prints its table: the service beside
the offline baselines (a count of shared tags, Hugo's related widget, most recent, ...).

    .venv/bin/python bench/related_quality.py                 # bench/data/related-eval
    .venv/bin/python bench/related_quality.py --data DIR      # another corpus of the same shape
    RELATED_HALF_LIFE_DAYS=14 .venv/bin/python bench/related_quality.py   # any RELATED_* setting
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "related-eval"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a child process's readiness
    raise SystemExit("the service did not become ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="folder with articles.jsonl and judgments.jsonl")
    ap.add_argument("--wait", type=float, default=3.0, help="seconds after loading, before the queries")
    args = ap.parse_args()
    token = secrets.token_urlsafe(16)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATA_DIR": str(Path(tmp) / "data"), "ADMIN_TOKEN": token,
               "ALLOWED_HOSTS": "t4k3.news", "LOG_LEVEL": "WARNING", "RELATED_BULK_QUIET_S": "1"}
        env.pop("REDIS_URL", None)
        proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port",
                                 str(port)], env=env, cwd=HERE.parent)
        try:
            wait_ready(base, proc)
            evaluator = str(args.data / "evaluate.py") if (args.data / "evaluate.py").exists() \
                else str(DATA / "evaluate.py")
            return subprocess.call([sys.executable, evaluator, "--data", str(args.data), "--service", base,
                                    "--token", token, "--host", "t4k3.news", "--wait", str(args.wait),
                                    "--systems", "recent,count,hugo,idf_cosine"])
        finally:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
