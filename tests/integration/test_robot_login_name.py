"""One login-name rule (issue 14; sql/007): a robot logs in as <prefix><name>, a legacy
robot as robot$<name>, the prefix being the robot_name_prefix setting or 'robot$' when its
row is missing. The name the admin API and the CLI show, the token's `sub`, the audit
log's name and the name that logs in must agree, whatever the settings table holds.

Before sql/007 a missing row made the token lookup and the API's name NULL (nobody could
log in, the API showed no name) while the audit triggers said robot$<name>."""

import pytest

from helpers import api as A
from helpers import realm


@pytest.fixture
def d(dockhand_factory):
    return dockhand_factory()


def agree(d, admin, robot_id, secret, expected, wrong=()):
    """Every place names the robot `expected`, and that name (and no other) logs in."""
    assert admin.robot(robot_id, prefix=None, consistent=False)["name"] == expected
    listed = {r["id"]: r["name"] for r in A.expect(admin.get("/robots", params={"page_size": "100"}), 200)}
    assert listed[robot_id] == expected, listed
    assert d.cli_json("robot", "show", str(robot_id))["name"] == expected
    r = d.token(auth=(expected, secret))
    realm.token_ok(d, r, sub=expected)
    for name in wrong:
        assert A.login_status(d, name, secret) == 401, name


def test_missing_prefix_setting_means_robot_dollar_everywhere(d):
    admin = A.ensure_admin(d)
    created = admin.create_robot("nopfx", A.perm("p", "pull"))
    assert created["name"] == "robot$nopfx"
    d.sql("DELETE FROM settings WHERE key = 'robot_name_prefix'")
    d.sync()
    agree(d, admin, created["id"], created["secret"], "robot$nopfx", wrong=["nopfx"])
    # The page previews new names with the prefix the rule uses.
    assert admin.config()["robot_name_prefix"]["value"] == "robot$"
    assert d.config_get("robot_name_prefix") == "robot$"
    # A robot created now is named, and logs in, the same way; so does its audit entry.
    later = admin.create_robot("nopfx2", A.perm("p", "pull"))
    assert later["name"] == "robot$nopfx2"
    agree(d, admin, later["id"], later["secret"], "robot$nopfx2")
    audited = d.sql("SELECT resource FROM audit_log WHERE operation = 'create'"
                    " AND resource_type = 'robot' ORDER BY id DESC LIMIT 1").strip()
    assert audited == "robot$nopfx2"


def test_custom_prefix_and_a_legacy_robot(d):
    admin = A.ensure_admin(d)
    admin.set_config(robot_name_prefix="svc.")
    plain = admin.create_robot("plain", A.perm("p", "pull"), prefix="svc.")
    old = admin.create_robot("old", A.perm("p", "pull"), prefix="svc.")
    d.sql("UPDATE robots SET legacy = true WHERE id = %d" % old["id"])
    d.sync()
    agree(d, admin, plain["id"], plain["secret"], "svc.plain", wrong=["robot$plain", "plain"])
    # A legacy robot keeps robot$ whatever the prefix.
    agree(d, admin, old["id"], old["secret"], "robot$old", wrong=["svc.old", "old"])
    # And without the setting row, the plain robot falls back to robot$ too.
    d.sql("DELETE FROM settings WHERE key = 'robot_name_prefix'")
    d.sync()
    agree(d, admin, plain["id"], plain["secret"], "robot$plain", wrong=["svc.plain"])
    agree(d, admin, old["id"], old["secret"], "robot$old")
