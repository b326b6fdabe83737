"""The README documents every setting the binary knows, and every CLI command."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _help():
    out = subprocess.run([os.environ["DOCKHAND_BIN"], "help"], capture_output=True,
                         text=True, check=True).stdout
    return out


def test_every_setting_is_in_the_readme():
    readme = open(os.path.join(ROOT, "README.md")).read()
    settings = re.findall(r"^\s+(DOCKHAND_[A-Z_]+)\s+(--[a-z-]+)\s+(\S+)", _help(), re.M)
    assert len(settings) >= 18
    for env, flag, default in settings:
        row = [l for l in readme.splitlines() if l.startswith(f"| `{env}` |")]
        assert row, f"{env} missing from the README's settings table"
        assert f"`{flag}`" in row[0], f"{flag} missing from the row of {env}"
        if default != "-":
            assert f"`{default}`" in row[0], f"default {default} of {env} not in the README"


def test_every_command_is_in_the_readme():
    readme = open(os.path.join(ROOT, "README.md")).read()
    commands = set(re.findall(r"^  (project|robot|config) (\S+)", _help(), re.M))
    assert len(commands) >= 10
    for group, sub in commands:
        for s in sub.split("|"):
            assert f"dockhand {group} {s}" in readme, f"{group} {s} undocumented"
