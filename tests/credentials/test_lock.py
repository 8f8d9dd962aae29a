"""pi's auth.json lock: path on the resolved file, waiting, stale locks, keep-alive, compromise."""

import os
import shutil
import stat
import tempfile
import threading
import time
import unittest

from pigw.credentials.lock import AuthLock, LockCompromised, LockTimeout


class LockTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.auth = os.path.join(self.dir, "auth.json")
        with open(self.auth, "w") as f:
            f.write("{}")
        self.lock_dir = self.auth + ".lock"

    def test_directory_exists_while_held_and_is_removed_on_release(self) -> None:
        with AuthLock(self.auth) as lock:
            self.assertEqual(lock.path, self.lock_dir)
            self.assertEqual(lock.target, self.auth)
            self.assertTrue(os.path.isdir(self.lock_dir))
            lock.check()
        self.assertFalse(os.path.exists(self.lock_dir))

    def test_released_when_the_body_raises(self) -> None:
        with self.assertRaises(KeyError):
            with AuthLock(self.auth):
                raise KeyError("x")
        self.assertFalse(os.path.exists(self.lock_dir))

    @unittest.skipIf(os.name == "nt", "POSIX modes")
    def test_missing_file_and_folder_are_created_private(self) -> None:
        auth = os.path.join(self.dir, "agent", "auth.json")
        with AuthLock(auth):
            self.assertTrue(os.path.isdir(auth + ".lock"))
        with open(auth, "rb") as f:
            self.assertEqual(f.read(), b"{}")
        self.assertEqual(stat.S_IMODE(os.stat(auth).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(auth)).st_mode) & 0o077, 0)

    @unittest.skipIf(not hasattr(os, "symlink") or os.name == "nt", "symlinks")
    def test_lock_sits_next_to_the_resolved_file(self) -> None:
        link = os.path.join(self.dir, "link", "auth.json")
        os.mkdir(os.path.dirname(link))
        os.symlink(self.auth, link)
        with AuthLock(link) as lock:
            self.assertEqual((lock.target, lock.path), (os.path.realpath(self.auth), os.path.realpath(self.lock_dir)))
            self.assertFalse(os.path.exists(link + ".lock"))

    def test_waits_for_a_held_lock_then_proceeds(self) -> None:
        os.mkdir(self.lock_dir)
        taken = []

        def contender() -> None:
            with AuthLock(self.auth):
                taken.append(time.monotonic())

        thread = threading.Thread(target=contender)
        thread.start()
        time.sleep(0.3)
        self.assertEqual(taken, [])
        released = time.monotonic()
        os.rmdir(self.lock_dir)
        thread.join(5)
        self.assertEqual(len(taken), 1)
        self.assertLess(taken[0] - released, 1.0)  # back-off never sleeps over 2 s, and here far less
        self.assertFalse(os.path.exists(self.lock_dir))

    def test_gives_up_after_the_wait_without_breaking_a_fresh_lock(self) -> None:
        os.mkdir(self.lock_dir)
        started = time.monotonic()
        with self.assertRaises(LockTimeout) as caught:
            with AuthLock(self.auth, wait=0.2):
                self.fail("acquired")
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(str(caught.exception), self.lock_dir + " stayed locked by another process for 0.2 s")
        self.assertTrue(os.path.isdir(self.lock_dir))

    def test_stale_lock_is_broken(self) -> None:
        os.mkdir(self.lock_dir)
        old = time.time() - 40
        os.utime(self.lock_dir, (old, old))
        started = time.monotonic()
        with AuthLock(self.auth) as lock:
            self.assertLess(time.monotonic() - started, 0.5)
            self.assertGreater(os.stat(self.lock_dir).st_mtime, time.time() - 5)
            lock.check()
        self.assertFalse(os.path.exists(self.lock_dir))

    def test_lock_younger_than_stale_is_kept(self) -> None:
        os.mkdir(self.lock_dir)
        recent = time.time() - 20
        os.utime(self.lock_dir, (recent, recent))
        with self.assertRaises(LockTimeout):
            with AuthLock(self.auth, wait=0.1):
                pass
        self.assertEqual(int(os.stat(self.lock_dir).st_mtime), int(recent))

    def test_keep_alive_touches_the_directory(self) -> None:
        with AuthLock(self.auth, touch_every=0.05) as lock:
            first = os.stat(self.lock_dir).st_mtime
            time.sleep(0.3)
            self.assertGreater(os.stat(self.lock_dir).st_mtime, first + 0.1)
            lock.check()
        self.assertFalse(os.path.exists(self.lock_dir))

    def test_vanished_lock_is_compromised(self) -> None:
        with AuthLock(self.auth) as lock:
            os.rmdir(self.lock_dir)
            with self.assertRaises(LockCompromised):
                lock.check()
            os.mkdir(self.lock_dir)  # someone else's lock now
        self.assertTrue(os.path.isdir(self.lock_dir))

    def test_lock_touched_by_someone_else_is_compromised_and_left_alone(self) -> None:
        with AuthLock(self.auth, touch_every=0.05) as lock:
            other = time.time() - 3
            os.utime(self.lock_dir, (other, other))
            time.sleep(0.2)  # the keep-alive notices
            with self.assertRaises(LockCompromised) as caught:
                lock.check()
        self.assertEqual(str(caught.exception), f"the lock {self.lock_dir} was taken over while pigw held it")
        self.assertTrue(os.path.isdir(self.lock_dir))


if __name__ == "__main__":
    unittest.main()
