#!/usr/bin/env python3
"""Seed fuzz corpora from the captured Samba fixtures (idempotent).

Usage: seed-corpora.py <fixtures/samba dir> <out dir>

Writes <out>/<target>/<fixture name> for the targets in fuzz/:
  frame         every captured message (the bytes after the direct-TCP length)
  session_msgs  NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, ECHO
  file_msgs     CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL, CANCEL, QUERY_DIRECTORY,
                CHANGE_NOTIFY, OPLOCK_BREAK
  info_msgs     QUERY_INFO, SET_INFO, QUERY_DIRECTORY, CHANGE_NOTIFY, and the raw buffers
                they carry (QUERY_INFO output, directory pages, SET_INFO input)
  file_msgs     also the raw payloads: IOCTL input/output, CREATE context chains
  auth_tokens   the security buffers (SPNEGO/NTLM tokens) of SESSION_SETUP and the
                NEGOTIATE response
Every target gets seeds; the script fails if one does not.
"""

import os
import struct
import sys

FAMILIES = {
    "session_msgs": {"NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT",
                     "TREE_DISCONNECT", "ECHO"},
    "file_msgs": {"CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL",
                  "QUERY_DIRECTORY", "CHANGE_NOTIFY", "OPLOCK_BREAK"},
    "info_msgs": {"QUERY_INFO", "SET_INFO", "QUERY_DIRECTORY", "CHANGE_NOTIFY"},
}

TARGETS = ["frame", "session_msgs", "file_msgs", "info_msgs", "auth_tokens"]


def buffer_at(msg, off_fmt, off_pos, len_fmt, len_pos):
    """msg[off:off+len] for the offset/length fields at body positions, or None."""
    try:
        off = struct.unpack_from(off_fmt, msg, 64 + off_pos)[0]
        ln = struct.unpack_from(len_fmt, msg, 64 + len_pos)[0]
    except struct.error:
        return None
    if ln == 0 or off + ln > len(msg):
        return None
    return msg[off:off + ln]


def payloads(cmd, direction, msg):
    """(target, suffix, bytes) for the raw buffers inside a message ([MS-SMB2] 2.2)."""
    out = []
    if len(msg) < 66 or struct.unpack_from("<H", msg, 64)[0] == 9 and cmd not in (
            "QUERY_INFO", "QUERY_DIRECTORY", "CHANGE_NOTIFY", "SESSION_SETUP"):
        return out
    if cmd in ("QUERY_INFO", "QUERY_DIRECTORY", "CHANGE_NOTIFY") and direction == "resp":
        b = buffer_at(msg, "<H", 2, "<I", 4)
        if b:
            out.append(("info_msgs", "buf", b))
    elif cmd == "SET_INFO" and direction == "req":
        b = buffer_at(msg, "<H", 8, "<I", 4)
        if b:
            out.append(("info_msgs", "buf", b))
    elif cmd == "IOCTL":
        i = buffer_at(msg, "<I", 24, "<I", 28)
        o = buffer_at(msg, "<I", 32, "<I", 36)
        for suffix, b in (("in", i), ("out", o)):
            if b:
                out.append(("file_msgs", suffix, b))
    elif cmd == "CREATE" and direction == "req":
        b = buffer_at(msg, "<I", 48, "<I", 52)
        if b:
            out.append(("file_msgs", "ctx", b))
    elif cmd == "CREATE" and direction == "resp":
        b = buffer_at(msg, "<I", 80, "<I", 84)
        if b:
            out.append(("file_msgs", "ctx", b))
    return out


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
        for target, suffix, b in payloads(cmd, direction, msg):
            write(out, target, f"{name}.{suffix}", b)
        n += 1
    for t in TARGETS:
        d = os.path.join(out, t)
        if not os.path.isdir(d) or not os.listdir(d):
            raise SystemExit(f"no seeds for fuzz target {t}")
    print(f"seeded fuzz corpora from {n} fixtures into {out}")


if __name__ == "__main__":
    main()
