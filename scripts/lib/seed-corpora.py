#!/usr/bin/env python3
"""Seed fuzz corpora from the captured Samba fixtures (idempotent).

Usage: seed-corpora.py <fixtures/samba dir> <out dir>

Writes <out>/<target>/<fixture name> for the targets in fuzz/:
  frame         every captured message (the bytes after the direct-TCP length)
  session_msgs  NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, ECHO
  file_msgs     CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL, CANCEL, QUERY_DIRECTORY,
                CHANGE_NOTIFY, OPLOCK_BREAK
  info_msgs     QUERY_INFO, SET_INFO, QUERY_DIRECTORY
  auth_tokens   the security buffers (SPNEGO/NTLM tokens) of SESSION_SETUP and the
                NEGOTIATE response
"""

import os
import struct
import sys

FAMILIES = {
    "session_msgs": {"NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT",
                     "TREE_DISCONNECT", "ECHO"},
    "file_msgs": {"CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL",
                  "QUERY_DIRECTORY", "CHANGE_NOTIFY", "OPLOCK_BREAK"},
    "info_msgs": {"QUERY_INFO", "SET_INFO", "QUERY_DIRECTORY"},
}


def security_buffer(cmd, direction, msg):
    """The SecurityBuffer of a SESSION_SETUP or NEGOTIATE response ([MS-SMB2] 2.2.4-2.2.6)."""
    try:
        if cmd == "SESSION_SETUP" and direction == "req":
            off, ln = struct.unpack_from("<HH", msg, 64 + 12)
        elif cmd == "SESSION_SETUP":
            off, ln = struct.unpack_from("<HH", msg, 64 + 4)
        elif cmd == "NEGOTIATE" and direction == "resp":
            off, ln = struct.unpack_from("<HH", msg, 64 + 56)
        else:
            return None
    except struct.error:
        return None
    if ln == 0 or off + ln > len(msg):
        return None
    return msg[off:off + ln]


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    if not (os.path.exists(path) and open(path, "rb").read() == data):
        with open(path, "wb") as f:
            f.write(data)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    n = 0
    for line in open(os.path.join(src, "index.tsv")):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        rel, direction, cmd = f[0], f[2], f[3]
        msg = open(os.path.join(src, rel), "rb").read()
        name = rel.replace("/", "-")
        write(out, "frame", name, msg)
        for target, cmds in FAMILIES.items():
            if cmd in cmds:
                write(out, target, name, msg)
        tok = security_buffer(cmd, direction, msg)
        if tok:
            write(out, "auth_tokens", name, tok)
        n += 1
    print(f"seeded fuzz corpora from {n} fixtures into {out}")


if __name__ == "__main__":
    main()
