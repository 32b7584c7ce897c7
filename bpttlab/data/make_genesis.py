"""Regenerate genesis_kjv.txt from Debian's bible-kjv-text package (the King James Version).

    apt-get install bible-kjv        # the `bible` program and the KJV text data
    python bpttlab/data/make_genesis.py

Chapter headings and verse numbers are dropped; each verse becomes one line and a
blank line separates chapters.
"""

from __future__ import annotations

import pathlib
import re
import subprocess

OUT = pathlib.Path(__file__).with_name("genesis_kjv.txt")


def main() -> None:
    raw = subprocess.run(["bible", "-l0", "gen1:1-50:26"], capture_output=True, text=True, check=True).stdout
    lines: list[str] = []
    for line in raw.splitlines():
        if re.fullmatch(r"\s*Genesis \d+\s*", line):
            if lines:
                lines.append("")
            continue
        m = re.fullmatch(r"\s*\d+ (.*\S)\s*", line)
        if m:
            lines.append(m.group(1))
    OUT.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"wrote {OUT.name}: {OUT.stat().st_size} bytes, {sum(1 for x in lines if x)} verses")


if __name__ == "__main__":
    main()
