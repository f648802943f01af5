"""The lifecycle lock: a second writer is refused at once, naming the first.

Two real processes: a child takes the lock and holds it, this one tries.
"""

import subprocess
import sys

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import lock

HOLDER = ("import sys, time\n"
          "from org_ovirt_node.lifecycle import lock\n"
          "held = lock.acquire('update', sys.argv[1])\n"
          "print('held', flush=True)\n"
          "sys.stdin.read()\n")


@pytest.fixture
def holder(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "held\n"
    yield child
    child.stdin.close()
    child.wait(10)


def test_a_second_command_is_refused_naming_the_holder(tmp_path, holder):
    with pytest.raises(NodeError) as caught:
        lock.acquire("gc", str(tmp_path))
    assert str(caught.value) == (f"another ovirt-node command is running (update, pid "
                                 f"{holder.pid}); try again when it has finished")


def test_the_lock_is_free_again_once_the_holder_exits(tmp_path, holder):
    holder.stdin.close()
    holder.wait(10)
    held = lock.acquire("gc", str(tmp_path))
    assert (tmp_path / "run/ovirt-node/lifecycle.lock").read_text().startswith("gc ")
    held.release()
    lock.acquire("rollback", str(tmp_path)).release()


def test_the_run_dir_is_private(tmp_path):
    lock.acquire("pin", str(tmp_path)).release()
    assert (tmp_path / "run/ovirt-node").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("argv", [["update", "--image", "/dev/null", "--yes"],
                                  ["gc", "--yes"], ["rollback", "--yes"], ["boot-ok"],
                                  ["finalize"], ["redboot", "--dry-run"], ["pin", "x", "--yes"],
                                  ["unpin", "x", "--yes"]])
def test_the_cli_refuses_a_writer_while_another_runs(tmp_path, holder, monkeypatch, capsys,
                                                     argv):
    from org_ovirt_node.cli import main  # pylint: disable=import-outside-toplevel
    real = lock.acquire
    monkeypatch.setattr(lock, "acquire", lambda command: real(command, str(tmp_path)))
    assert main.main(argv) == 1
    assert capsys.readouterr().err == (
        f"ovirt-node: error: another ovirt-node command is running (update, pid "
        f"{holder.pid}); try again when it has finished\n")
