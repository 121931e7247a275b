#!/usr/bin/env python3
"""Oracle for the original relay-git-sync canvas export (relay.md §5.8).

Input: canvas data as tests/standin/canvas.js canvasDataOf() gives it
(JSON: {"roots":[...],"texts":{root:text},"nodes":[[key,value],...],
"edges":[[key,value],...]}), one object per line on stdin.
Output: per input, the bytes json.dumps(canvas, indent=2, sort_keys=True)
gives for the data pycrdt would hand to relay_client._export_canvas_data,
followed by a NUL byte.

Numbers: yjs encodes an integer with |x| <= 2**31-1 as Any integer, every
other number as a float; pycrdt turns both into Python floats (mode
"python"); mode "python-int" keeps the Any integers as int.
"""
import json
import sys

BITS31 = 0x7FFFFFFF


def numbers(v, mode):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        if mode == "python-int" and float(v).is_integer() and abs(v) <= BITS31 and not (
            isinstance(v, float) and str(v) == "-0.0"
        ):
            return int(v)
        return float(v)
    if isinstance(v, list):
        return [numbers(x, mode) for x in v]
    return {k: numbers(x, mode) for k, x in v.items()}


def export(data, mode):
    roots = set(data["roots"])
    texts = data["texts"]
    canvas = {"edges": [], "nodes": []}
    edges = dict((k, numbers(v, mode)) for k, v in data["edges"])
    nodes = dict((k, numbers(v, mode)) for k, v in data["nodes"])
    for key in sorted(edges):
        canvas["edges"].append(dict(edges[key]))
    for key in sorted(nodes):
        node = dict(nodes[key])
        node_id = node.get("id")
        if node_id and node_id in roots:
            ytext = texts.get(node_id, "")
            node["text"] = ytext if ytext else node.get("text", "")
        canvas["nodes"].append(node)
    canvas["edges"].sort(key=lambda x: x.get("id", ""))
    canvas["nodes"].sort(key=lambda x: x.get("id", ""))
    return json.dumps(canvas, indent=2, sort_keys=True)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "python"
    out = sys.stdout.buffer
    for line in sys.stdin:
        if not line.strip():
            continue
        out.write(export(json.loads(line), mode).encode("utf-8"))
        out.write(b"\0")


if __name__ == "__main__":
    main()
