"""Hostile submissions for tests/test_sandbox_attacks.py: ``detector.py`` sources.

Each attacks the grader or its classmates one way (issue 21's findings) and prints
what it saw, for the test to read from its log. ``HONEST`` is graded beside them.
"""

CHANNEL = '''
import os, socket, stat, struct

def channel():
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                return socket.socket(fileno=os.dup(int(name)))
        except OSError:
            pass
'''

HONEST = """
from optbook.homework.grading import NearestPointDetector

def make_detector():
    return NearestPointDetector()
"""

ATTACKS = {
    # a length header, then silence: the grader must not wait past the deadline
    "partial_reply": CHANNEL
    + """
import time

def make_detector():
    c = channel()
    def detector(received):
        c.sendall(struct.pack("<cI", b"L", 12 + received.numel() * 16) + b"xx")
        time.sleep(1000)
    return detector
""",
    # a one-byte reply, then exit
    "short_reply": CHANNEL
    + """
def make_detector():
    c = channel()
    c.sendall(b"R")
    os._exit(0)
""",
    # a reply announcing a gigabyte: refused before it is read
    "huge_reply": CHANNEL
    + """
def make_detector():
    c = channel()
    def detector(received):
        c.sendall(struct.pack("<cI", b"L", 1 << 30) + bytes(1 << 20))
        import time; time.sleep(1000)
    return detector
""",
    # an error report of a kind the grader never gave out, and deeply nested text
    "spoofed_verdict": CHANNEL
    + """
def make_detector():
    c = channel()
    c.sendall(struct.pack("<cI", b"E", 1 + 4000) + b"M" + b"[" * 4000)
    import time; time.sleep(1000)
""",
    # claims a memory failure: the verdict stays the grader's ("crashed")
    "fake_memory_error": """
def make_detector():
    raise MemoryError("memory limit exceeded (not really)")
""",
    # escapes, HTML, a formula: the results must show them as data
    "injection": """
def make_detector():
    raise RuntimeError("\\x1b[2J\\x1b[31m<img src=x onerror=alert(1)>\\r=HYPERLINK(1)|x")
""",
    # looks for the grader: its process, its descriptors, the network, other users
    "scout": CHANNEL
    + """
import importlib, resource, subprocess, torch
from optbook.homework.grading import NearestPointDetector

def make_detector():
    links = []
    for n in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{n}"))
        except OSError:
            pass
    kinds = [link.split(":")[0] for link in links if ":" in link]
    print("sockets", kinds.count("socket"), "pipes", kinds.count("pipe"), flush=True)
    print("pids", sorted(int(n) for n in os.listdir("/proc") if n.isdigit()), flush=True)
    print("ppid", os.getppid(), "uid", os.getuid(), flush=True)
    try:
        s = socket.create_connection(("127.0.0.1", int(os.environ.get("P", "22"))), 1)
        print("network: connected", flush=True)
    except OSError as error:
        print("network:", type(error).__name__, flush=True)
    for name in ("/etc/passwd", "/root", "/home"):
        print(name, "exists" if os.path.exists(name) else "absent", flush=True)
    try:
        # (by name: the students' release leaves out files that import the solution)
        importlib.import_module("optbook_solution")
        print("solution: importable", flush=True)
    except ImportError:
        print("solution: hidden", flush=True)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
        print("nofile raised", flush=True)
    except (ValueError, OSError) as error:
        print("nofile:", type(error).__name__, flush=True)
    try:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        print("affinity widened", flush=True)
    except OSError as error:
        print("affinity:", type(error).__name__, flush=True)
    torch.set_num_threads(4)
    print("cpus", sorted(os.sched_getaffinity(0)), flush=True)
    children = []
    try:
        for _ in range(60):
            children.append(subprocess.Popen(["/bin/sleep", "30"]))
    except OSError as error:
        print("fork:", type(error).__name__, flush=True)
    print("children", len(children), flush=True)
    for child in children:
        child.kill()
        child.wait()
    for place in ("/tmp", "/dev/shm"):
        print(place, "before:", os.listdir(place), flush=True)
        with open(place + "/left-behind", "w") as f:
            f.write("x" * 1000)
    return NearestPointDetector()
""",
    # tries to kill the grader and everyone it can see
    "killer": """
import os, signal
from optbook.homework.grading import NearestPointDetector

def make_detector():
    print("shared /tmp:", os.listdir("/tmp"), "/dev/shm:", os.listdir("/dev/shm"), flush=True)
    for pid in (os.getppid(), 1, -1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as error:
            print("kill", pid, type(error).__name__, flush=True)
    return NearestPointDetector()
""",
    # memory spread over three processes, each under the limit, together over it
    "memory_spread": """
import os, time, torch

def make_detector():
    for _ in range(2):
        if os.fork() == 0:
            x = torch.ones(500 << 20, dtype=torch.uint8)
            time.sleep(60)
            os._exit(0)
    x = torch.ones(500 << 20, dtype=torch.uint8)
    time.sleep(60)
""",
}
