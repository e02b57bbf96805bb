"""Bounded load test on loopback: the app under gunicorn, many clients changing the as-of date.

Starts README's production ``gunicorn ... dashboard.wsgi:server`` on a free 127.0.0.1 port for a data dir,
then N concurrent clients each send M requests of the main callback — the same HTTP POST to
``/_dash-update-component`` the browser sends when the as-of date changes — cycling
through dates. Prints errors, throughput and p50/p95 latency. Traffic never leaves
127.0.0.1, loops are bounded in count and time, and gunicorn is stopped at the end.

    python bench/bench_load.py [--data-dir DIR] [--clients 20] [--requests 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.http_load import (  # noqa: E402  (re-exported for the other benches)
    _post,
    as_of_dates,
    callback_body,
    free_port,
    gunicorn,
    main_callback,
    readme_gunicorn_args,
    run_load,
)

__all__ = [
    "_post",
    "as_of_dates",
    "callback_body",
    "free_port",
    "gunicorn",
    "main_callback",
    "readme_gunicorn_args",
    "run_load",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / "data"
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None, help="default: README's")
    parser.add_argument("--threads", type=int, default=None, help="default: README's")
    args = parser.parse_args()
    with gunicorn(args.data_dir, args.workers, args.threads) as server:
        result = run_load(server.url, args.clients, args.requests)
    print(f"| gunicorn workers × threads | {args.workers} × {args.threads} |")
    print(f"| clients × requests | {args.clients} × {args.requests} |")
    print(f"| data dir | {args.data_dir} |")
    print(f"| requests answered | {result['requests']} |")
    print(f"| errors | {result['errors']} {result['error_samples'] or ''} |")
    print(f"| throughput | {result['throughput_per_s']:.1f} req/s |")
    print(
        f"| p50 / p95 / max | {result['p50'] * 1000:.0f} / {result['p95'] * 1000:.0f} / {result['max'] * 1000:.0f} ms |"
    )
    print(f"| wall time | {result['seconds']:.1f} s |")
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
