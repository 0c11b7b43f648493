#!/usr/bin/env python3
"""Writes a git fast-import stream of a synthetic history to stdout.

    gen-git-history.py COMMITS TOTAL_MB [FILES] [TOKENS] > stream

A linear history on main with a side branch merged every 500 commits: FILES source-like files edited one per
commit, so that the blobs add up to about TOTAL_MB. TOKENS bst_ tokens (random, valid) are planted in random
commits; later edits may delete them again, so some live only in history. Prints the number of planted tokens to
stderr as "planted N". Deterministic for a given set of arguments.
"""
import base64
import random
import sys


def main():
    commits = int(sys.argv[1])
    total = int(float(sys.argv[2]) * 1024 * 1024)
    nfiles = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    ntokens = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    rnd = random.Random(42)
    out = sys.stdout.buffer

    words = ("int char void return static const struct if else for while size_t buf len err ptr data node "
             "list map key value count index offset result status config handle error message path name "
             "parse read write open close free alloc init next prev").split()
    pool = []
    for _ in range(20000):
        ind = "\t" * rnd.randint(0, 3)
        n = rnd.randint(2, 10)
        line = ind + " ".join(rnd.choice(words) for _ in range(n))
        line += rnd.choice([";", " {", "", " }", "); /* " + rnd.choice(words) + " */", " = 0;"])
        pool.append(line.encode())

    line_len = sum(len(x) + 1 for x in pool) / len(pool)
    per_file = max(1, int(total / (commits + nfiles) / line_len))
    files = []
    for i in range(nfiles):
        path = "src/mod%02d/file%04d.c" % (i % 40, i)
        files.append([path, [rnd.choice(pool) for _ in range(per_file)]])

    token_commits = set(rnd.sample(range(1, commits), min(ntokens, commits - 1)))
    mark = 0

    def blob(lines):
        nonlocal mark
        mark += 1
        data = b"\n".join(lines) + b"\n"
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
        out.write(data)
        out.write(b"\n")
        return mark

    def commit(ref, when, msg, changes, parents):
        nonlocal mark
        mark += 1
        out.write(b"commit %s\nmark :%d\n" % (ref, mark))
        out.write(b"author Bench Author <bench@example.com> %d +0000\n" % when)
        out.write(b"committer Bench Author <bench@example.com> %d +0000\n" % when)
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        for i, p in enumerate(parents):
            out.write(b"%s :%d\n" % (b"from" if i == 0 else b"merge", p))
        for m, path in changes:
            out.write(b"M 100644 :%d %s\n" % (m, path.encode()))
        out.write(b"\n")
        return mark

    when = 1600000000
    # The first commit holds every file.
    changes = [(blob(f[1]), f[0]) for f in files]
    head = commit(b"refs/heads/main", when, b"initial import", changes, [])
    side = None
    planted = 0
    for c in range(1, commits):
        when += 60
        f = files[rnd.randrange(nfiles)]
        lines = f[1]
        for _ in range(rnd.randint(1, 4)):
            lines[rnd.randrange(len(lines))] = rnd.choice(pool)
        if c in token_commits:
            raw = bytes(rnd.getrandbits(8) for _ in range(32))
            tok = b"bst_" + base64.urlsafe_b64encode(raw).rstrip(b"=")
            lines.insert(rnd.randrange(len(lines)), b'\tconst char *api_key = "' + tok + b'";')
            planted += 1
        m = blob(lines)
        msg = b"edit %s (%d)" % (f[0].encode(), c)
        if c % 500 == 250:
            side = head  # branch off here
        if side is not None and c % 500 < 499 and c % 500 >= 250 and c % 3 == 0:
            side = commit(b"refs/heads/side", when, msg, [(m, f[0])], [side])
            continue
        if side is not None and c % 500 == 499:
            head = commit(b"refs/heads/main", when, b"merge side (%d)" % c, [(m, f[0])], [head, side])
            side = None
            continue
        head = commit(b"refs/heads/main", when, msg, [(m, f[0])], [head])
    sys.stderr.write("planted %d\n" % planted)


if __name__ == "__main__":
    main()
