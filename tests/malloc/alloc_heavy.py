# tests/malloc/alloc_heavy.py - a Python workload that allocates heavily
# (dicts, lists, strings, bytes, sets, many small objects and some large
# buffers, freed and reused), run by CTest under the numaslab malloc
# replacement.  Every result is checked; prints "alloc_heavy: OK" at the end.
import hashlib
import sys


def check(cond, what):
    if not cond:
        print("alloc_heavy: FAILED:", what)
        sys.exit(1)


def dicts(rounds):
    total = 0
    for r in range(rounds):
        d = {}
        for i in range(20000):
            d["key-%d-%d" % (r, i)] = [i, str(i) * 3, {"n": i}]
        check(len(d) == 20000, "dict size")
        check(d["key-%d-777" % r][1] == "777777777", "dict value")
        total += sum(v[0] for v in d.values())
        del d
    check(total == rounds * (19999 * 20000 // 2), "dict sums")


def lists_and_strings():
    words = ["w%05d" % i for i in range(50000)]
    text = " ".join(words)
    check(len(text) == 50000 * 6 + 49999, "joined length")
    back = text.split(" ")
    check(back == words, "split round trip")
    grown = []
    for i in range(100000):
        grown.append(i * i)
    check(sum(grown) == sum(i * i for i in range(100000)), "list sum")
    s = "".join(chr(65 + i % 26) for i in range(200000))
    check(s.count("A") == 200000 // 26 + (1 if 200000 % 26 else 0), "char count")
    up = s.lower().upper()
    check(up == s, "case round trip")


def big_buffers():
    h = hashlib.sha256()
    for n in (1 << 10, 1 << 16, 1 << 20, 1 << 23):
        b = bytearray(n)
        for i in range(0, n, 4096):
            b[i] = i % 251
        h.update(b)
        b.extend(b"x" * 1000)
        check(len(b) == n + 1000, "bytearray extend")
    digest = h.hexdigest()
    h2 = hashlib.sha256()
    for n in (1 << 10, 1 << 16, 1 << 20, 1 << 23):
        b = bytearray(n)
        for i in range(0, n, 4096):
            b[i] = i % 251
        h2.update(b)
    check(h2.hexdigest() == digest, "buffer digest")


def sets_and_objects():
    class Node:
        __slots__ = ("value", "next")

        def __init__(self, value, nxt):
            self.value = value
            self.next = nxt

    head = None
    for i in range(200000):
        head = Node(i, head)
    n, total = 0, 0
    while head is not None:
        n += 1
        total += head.value
        head = head.next
    check(n == 200000 and total == 199999 * 200000 // 2, "linked list")
    a = set(range(0, 300000, 2))
    b = set(range(0, 300000, 3))
    check(len(a & b) == len(range(0, 300000, 6)), "set intersection")
    check(len(a | b) == len(a) + len(b) - len(a & b), "set union")


dicts(5)
lists_and_strings()
big_buffers()
sets_and_objects()
print("alloc_heavy: OK")
