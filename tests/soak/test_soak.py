"""The soak (issue 13 §2; README "Tests"): SOAK_SECONDS (60 in CI; scripts/soak runs 600) of
mixed traffic against two instances on one database, every token checked by the oracle of
soak.py, then the report (printed, written to $SOAK_REPORT when set) and its assertions:
- 0 oracle violations (a token for a robot that was deleted, disabled, expired or
  re-secreted, or with a dead refresh token, outside the propagation window; a grant beyond
  or short of what the robot held; a wrong lifetime, identity or signature);
- 0 unexpected errors (expected: a 401 that one of the states the instance may have seen
  refuses; the 403 of a write without the CSRF header; the 401 of a signed-out session),
  0 answers 5xx;
- RSS and open descriptors of each instance within 10 % of the warm-up sample;
- the audit log holds one `issue_token` row for every token issued, by jti, after both
  instances stopped with SIGTERM (which flushes the writer).
"""

import json
import os

from soak import soak

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WINDOW = float(os.environ.get("SOAK_WINDOW", "1.0"))
GROWTH_PCT = 10.0


def test_soak(dockhand_factory, pg):
    settings = {"DOCKHAND_FAIL_LIMIT_ACCOUNT": "1000000",
                "DOCKHAND_FAIL_LIMIT_ADDRESS": "1000000",
                "DOCKHAND_LOG_LEVEL": "info"}
    # glibc fills every allocation at once under MALLOC_PERTURB_ (meson sets it for each
    # test): the caches' and failed-login table's arrays are then resident from the start,
    # instead of page by page as keys land in them (about 4 MB an instance over ten
    # minutes), so RSS growth after warm-up is memory allocated later.
    perturb = os.environ.get("MALLOC_PERTURB_")
    os.environ["MALLOC_PERTURB_"] = perturb or "165"
    try:
        a = dockhand_factory(**settings)
        b = dockhand_factory(db=a.db, **settings)
    finally:
        if perturb is None:
            del os.environ["MALLOC_PERTURB_"]
    run = soak.Soak(a, b, SECONDS, window=WINDOW,
                    seed=int(os.environ["SOAK_SEED"]) if os.environ.get("SOAK_SEED") else None)
    run.run()
    metrics = {}
    for name, d in zip(run.names, run.d):
        metrics[name] = run.metrics(d)
    for d in run.d:
        d.stop()  # SIGTERM: the audit writer writes everything queued, exit 0 asserted
    jtis = run.audit_counts(pg, a.db)
    report = run.report(jtis, metrics)
    text = json.dumps(report, indent=1, sort_keys=True)
    print("\nsoak report:\n" + text)
    if os.environ.get("SOAK_REPORT"):
        with open(os.environ["SOAK_REPORT"], "w") as f:
            f.write(text + "\n")
    assert report["token_requests"] > 0 and report["tokens_issued"] > 0, text
    assert report["tokens_checked"] == report["tokens_issued"], text
    assert not report["violations"], text
    assert not report["unexpected_errors"], text
    assert report["status_5xx"] == 0, text
    for name, g in report["instances"].items():
        assert g["rss_growth_pct"] <= GROWTH_PCT, (name, g)
        assert g["fds_growth_pct"] <= GROWTH_PCT, (name, g)
    assert report["tokens_without_audit_row"] == 0, text
    assert report["audit_rows_without_token"] == 0, text
    assert report["audit_rows"] == report["tokens_issued"], text
