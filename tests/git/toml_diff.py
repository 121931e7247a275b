#!/usr/bin/env python3
"""Differential test of rgs_toml against Python's tomllib (TOML 1.0).

usage: toml_diff.py TEST_TOML_BINARY SEED COUNT

Generates COUNT random documents inside the supported subset (both parsers
must accept them and agree on every value and type), then mutates each a
few times at random: whatever rgs_toml accepts, tomllib must accept with
the same values (rgs_toml never accepts what TOML 1.0 refuses, and never
reads a document differently); whatever tomllib refuses, rgs_toml must
refuse.  Prints TAP lines, one per check group."""
import json, os, random, subprocess, sys, tempfile, tomllib

binary, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
tmp = tempfile.mkdtemp(dir=os.environ.get("RGS_TMP"))

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

def ours(text):
    p = os.path.join(tmp, "doc.toml")
    with open(p, "wb") as f:
        f.write(text)
    r = subprocess.run([binary, "--json", p], capture_output=True)
    if r.returncode == 0:
        return True, json.loads(r.stdout)
    if r.returncode == 1:
        return False, r.stderr.decode(errors="replace").strip()
    raise SystemExit(f"test-toml crashed (exit {r.returncode}): {r.stderr[-500:]!r}")

def theirs(text):
    try:
        return True, tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        return False, str(e)

CHARS = "abcXYZ019 _-.,:;#=[]{}'\t" + "é€😀ß中"
def rstr():
    return "".join(rnd.choice(CHARS) for _ in range(rnd.randint(0, 8)))

def basic(s):
    out = []
    for c in s:
        r = rnd.random()
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\t" and r < 0.5:
            out.append("\\t")
        elif r < 0.1:
            out.append("\\u%04x" % ord(c) if ord(c) < 0x10000 else "\\U%08X" % ord(c))
        else:
            out.append(c)
    if rnd.random() < 0.2:
        out.append(rnd.choice(["\\n", "\\r", "\\b", "\\f", "\\\\", '\\"']))
    return '"' + "".join(out) + '"'

def string_lit():
    s = rstr()
    if "'" not in s and rnd.random() < 0.4:
        return "'" + s + "'"
    return basic(s)

def key():
    r = rnd.random()
    if r < 0.7:
        return "".join(rnd.choice("abcdefgXYZ0123456789_-") for _ in range(rnd.randint(1, 6)))
    return string_lit()

def underscored(digits):
    if len(digits) > 1 and rnd.random() < 0.3:
        i = rnd.randint(1, len(digits) - 1)
        return digits[:i] + "_" + digits[i:]
    return digits

def integer():
    r = rnd.random()
    if r < 0.6:
        n = rnd.choice([0, 1, 7, 42, 1000, 123456789, 2**63 - 1, rnd.randint(0, 10**12)])
        sign = rnd.choice(["", "", "-", "+"])
        return sign + underscored(str(n))
    base, pre = rnd.choice([(16, "0x"), (8, "0o"), (2, "0b")])
    n = rnd.randint(0, 2**40)
    digits = {16: "%x", 8: "%o", 2: "{:b}"}[base]
    d = digits % n if base != 2 else digits.format(n)
    if base == 16 and rnd.random() < 0.5:
        d = d.upper()
    return pre + underscored(d)

def flt():
    ip = rnd.choice(["0", "1", "3", "42", "12345"])
    s = rnd.choice(["", "-", "+"]) + underscored(ip)
    kind = rnd.randint(0, 2)
    if kind in (0, 2):
        s += "." + underscored("".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 6))))
    if kind in (1, 2):
        s += rnd.choice("eE") + rnd.choice(["", "+", "-"]) + str(rnd.randint(0, 300))
    return s

def value(depth=0):
    r = rnd.random()
    if r < 0.35:
        return string_lit()
    if r < 0.55:
        return integer()
    if r < 0.7:
        return flt()
    if r < 0.8:
        return rnd.choice(["true", "false"])
    if depth > 3:
        return "1"
    items = [value(depth + 1) for _ in range(rnd.randint(0, 4))]
    sep = rnd.choice([", ", ",", " ,\n  ", ", # note\n"])
    body = sep.join(items)
    if items and rnd.random() < 0.3:
        body += ","
    return "[" + rnd.choice(["", " ", "\n"]) + body + rnd.choice(["", " ", "\n"]) + "]"

def unquote_key(k):
    return tomllib.loads(k + " = 1").popitem()[0]

def pairs(nl, used=None):
    lines = []
    used = set() if used is None else used
    for _ in range(rnd.randint(0, 5)):
        k = key()
        if unquote_key(k) in used:
            continue
        used.add(unquote_key(k))
        line = rnd.choice(["", " ", "\t"]) + k + rnd.choice(["=", " = ", "\t=  "]) + value()
        if rnd.random() < 0.2:
            line += " # " + rstr().replace("\n", "")
        lines.append(line)
        if rnd.random() < 0.2:
            lines.append(rnd.choice(["", "# comment " + rstr(), "   "]))
    return lines

def document():
    nl = "\r\n" if rnd.random() < 0.2 else "\n"
    names = set()
    lines = pairs(nl, names)
    for _ in range(rnd.randint(0, 4)):
        k = key()
        uk = unquote_key(k)
        if rnd.random() < 0.5:
            if uk in names:
                continue
            names.add(uk)
            lines.append("[" + k + "]")
            lines += pairs(nl)
        else:
            if uk in names:
                continue
            names.add(uk)
            for _ in range(rnd.randint(1, 3)):
                lines.append("[[" + k + "]]" + rnd.choice(["", " # aot"]))
                lines += pairs(nl)
    text = nl.join(lines) + (nl if rnd.random() < 0.8 else "")
    return text.encode("utf-8")

def mutate(b):
    b = bytearray(b)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randint(0, 3)
        pos = rnd.randint(0, len(b))
        if op == 0 and b:
            del b[min(pos, len(b) - 1)]
        elif op == 1:
            b[pos:pos] = bytes([rnd.choice(b'"\'[]=#.,\\\n\r\t _-+0xe{}:\x00\x7f\xc3')])
        elif op == 2 and b:
            b[min(pos, len(b) - 1)] = rnd.randint(0, 255)
        else:
            j = rnd.randint(0, len(b))
            b[pos:pos] = b[j:j + rnd.randint(1, 8)]
    return bytes(b)

n = 0
def tap(ok, name, diag=""):
    global n
    n += 1
    print(("ok" if ok else "not ok") + f" {n} - {name}")
    if not ok:
        for line in diag.splitlines()[:20]:
            print("# " + line)

bad_gen, bad_mut, accepted_mut, refused_both = [], [], 0, 0
for i in range(count):
    doc = document()
    a, b = ours(doc), theirs(doc)
    if not (b[0] and a[0] and same(a[1], b[1])):
        bad_gen.append((doc, a, b))
    for _ in range(3):
        m = mutate(doc)
        a, b = ours(m), theirs(m)
        if a[0]:
            accepted_mut += 1
            if not (b[0] and same(a[1], b[1])):
                bad_mut.append((m, a, b))
        elif not b[0]:
            refused_both += 1

def show(cases):
    return "\n".join(f"input {c[0]!r}\nours {c[1]!r}\ntomllib {c[2]!r}" for c in cases[:3])

tap(not bad_gen, f"{count} generated documents: accepted by both, same values and types", show(bad_gen))
tap(not bad_mut, f"{accepted_mut} mutants accepted by rgs_toml: tomllib agrees", show(bad_mut))
tap(refused_both > 0, f"{refused_both} mutants refused by both (mutation reaches errors)")
print(f"1..{n}")
sys.exit(1 if bad_gen or bad_mut else 0)
