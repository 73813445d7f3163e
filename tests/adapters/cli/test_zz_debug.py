import json, os, subprocess, threading
from pathlib import Path
from click.testing import CliRunner
from regard.adapters.cli.main import cli
AWS = Path(__file__).resolve().parents[2] / "data" / "aws"

def run(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output

def test_dbg(tmp_path):
    data, keys, witness = tmp_path / "data", tmp_path / "keys", tmp_path / "witness"
    keys.mkdir()
    witness.mkdir()
    d = ("--data", str(data))
    print(run("collections", "create", "cases", "--require-purpose", *d))
    print([t.name for t in threading.enumerate()])
    import gc
    from regard.store.embedded.store import EmbeddedStore
    for o in gc.get_objects():
        if isinstance(o, EmbeddedStore):
            print("store", o._closed, o._stop.is_set(), o._lock_fd, o._saver.is_alive())
    print([l for l in open("/proc/locks") if f" {os.getpid()} " in l])
    print(run("collections", "describe", "cases", *d))
    assert 0
