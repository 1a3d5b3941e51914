#!/usr/bin/env python3
"""Writes OSV archives for bench/insight.sh: N records in OSV's JSON schema, spread over the
per-ecosystem zips OSV publishes (Debian.zip, PyPI.zip, npm.zip, crates.io.zip, Go.zip).

Debian records name the source packages of the image being scanned (from its dpkg status
file) as well as made-up ones, so the scan has real lookups that hit and miss; the rest are
shaped like the real data (aliases, CVSS vectors, several ranges, references, details text).

usage: insight_gen.py OUT_DIR N_RECORDS DPKG_STATUS
"""

import json
import os
import random
import sys
import zipfile

out_dir, total, status = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(8)
os.makedirs(out_dir, exist_ok=True)

# Source packages and versions of the scanned image.
sources = {}
with open(status, encoding="utf-8", errors="replace") as f:
    for stanza in f.read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
        if "Package" not in fields or "Version" not in fields:
            continue
        src = fields.get("Source", fields["Package"])
        version = fields["Version"]
        if "(" in src:
            src, version = src.split("(", 1)
            version = version.rstrip(")").strip()
        sources[src.strip()] = version

VECTORS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
]
DETAILS = (
    "A flaw was found in the handling of crafted input that allows a remote attacker to "
    "cause a denial of service or possibly execute arbitrary code. "
) * 3


def version(eco):
    a, b, c = rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 50)
    if eco.startswith("Debian"):
        return f"{a}.{b}.{c}-{rng.randint(1, 9)}+deb12u{rng.randint(1, 9)}"
    if eco == "Go":
        return f"{a}.{b}.{c}"
    return f"{a}.{b}.{c}"


def record(i, eco, name):
    rid = {
        "Debian:12": f"DEBIAN-CVE-2099-{i:06d}",
        "PyPI": f"PYSEC-2099-{i}",
        "npm": f"GHSA-{i:04x}-bnch-{i % 9973:04x}",
        "crates.io": f"RUSTSEC-2099-{i:04d}",
        "Go": f"GO-2099-{i:04d}",
    }[eco]
    events = [{"introduced": "0"}, {"fixed": version(eco)}]
    if rng.random() < 0.3:
        events += [{"introduced": version(eco)}, {"fixed": version(eco)}]
    rec = {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T00:00:00Z",
        "published": "2024-01-01T00:00:00Z",
        "aliases": [f"CVE-2099-{i:06d}"],
        "summary": f"{name}: crafted input leads to memory corruption",
        "details": DETAILS,
        "affected": [
            {
                "package": {"ecosystem": eco, "name": name},
                "ranges": [{"type": "SEMVER" if eco in ("npm", "crates.io", "Go") else "ECOSYSTEM", "events": events}],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://example.invalid/advisories/{rid}"},
            {"type": "WEB", "url": f"https://example.invalid/bugs/{i}"},
        ],
    }
    if rng.random() < 0.7:
        rec["severity"] = [{"type": "CVSS_V3", "score": rng.choice(VECTORS)}]
    return rec


shares = [("Debian:12", "Debian", 0.4), ("PyPI", "PyPI", 0.2), ("npm", "npm", 0.2),
          ("crates.io", "crates.io", 0.1), ("Go", "Go", 0.1)]
n = 0
src_names = sorted(sources)
for eco, file, share in shares:
    count = int(total * share) if eco != "Go" else total - n
    path = os.path.join(out_dir, f"{file}.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k in range(count):
            i = n + k
            if eco == "Debian:12" and k < 4 * len(src_names):
                # Four records per source package of the image: some hit, some miss.
                name = src_names[k % len(src_names)]
            else:
                name = f"pkg{rng.randint(0, count // 2)}"
            rec = record(i, eco, name)
            z.writestr(f"{rec['id']}.json", json.dumps(rec, indent=2))
    n += count
    print(f"{path}: {count} records", file=sys.stderr)
print(n)
