"""`dockhand serve` that cannot start says so and exits non-zero (issue: when the main
event loop could not be made, serve exited 0 without a word). A small interposer, built
by the test with the system's cc and loaded with LD_PRELOAD, makes the Nth
event_base_new() fail: with one worker, the 1st is the worker's loop, the 2nd the main
one."""
import os
import shutil
import subprocess

import pytest

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
struct event_base;
struct event_base *event_base_new(void)
{
    static int calls;
    static struct event_base *(*real)(void);
    const char *fail = getenv("SHIM_FAIL_EVENT_BASE_NEW");
    if (!real)
        real = (struct event_base * (*)(void)) dlsym(RTLD_NEXT, "event_base_new");
    if (fail && ++calls == atoi(fail))
        return NULL;
    return real();
}
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.fail("no C compiler to build the interposer")
    d = tmp_path_factory.mktemp("shim")
    src, so = d / "shim.c", d / "shim.so"
    src.write_text(SHIM)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src), "-ldl"], check=True)
    return str(so)


@pytest.mark.parametrize("nth,message", [(1, "cannot start worker 0"),
                                         (2, "cannot start the metrics listener"),
                                         (3, "cannot make the main event loop")])
def test_serve_without_event_loop_fails_loudly(dockhand_factory, shim, nth, message):
    d = dockhand_factory(start=False, DOCKHAND_WORKERS="1")
    env = d._full_env()
    env["LD_PRELOAD"] = shim
    env["SHIM_FAIL_EVENT_BASE_NEW"] = str(nth)
    # an ASan build checks that its runtime comes first; the interposer holds no memory
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    p = subprocess.run([d.bin, "serve"], env=env, cwd=d.workdir, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p.stderr[-2000:]
    assert message in p.stderr, p.stderr[-2000:]
