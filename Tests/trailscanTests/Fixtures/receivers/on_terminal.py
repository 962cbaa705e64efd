"""Runs a command on a pseudo-terminal, as a user at a terminal would, and prints what it wrote there.

  on_terminal.py [--columns N] [--hold FIFO --interrupt-on TEXT] -- COMMAND ARGS...

--columns sets the terminal's width. --hold opens FIFO for writing (so a scan reading it blocks, still
running) and, once TEXT has appeared on the terminal, sends SIGINT. The command's exit status goes to
stderr.
"""
import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

parser = argparse.ArgumentParser()
parser.add_argument("--columns", type=int, default=80)
parser.add_argument("--hold")
parser.add_argument("--interrupt-on")
parser.add_argument("command", nargs=argparse.REMAINDER)
options = parser.parse_args()
command = options.command[1:] if options.command[:1] == ["--"] else options.command

pid, fd = pty.fork()
if pid == 0:
    os.execv(command[0], command)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, options.columns, 0, 0))
out = b""
if options.hold:
    writer = os.open(options.hold, os.O_WRONLY)
    os.write(writer, b'{"Records":[')
    deadline = time.time() + 30
    while options.interrupt_on.encode() not in out and time.time() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            out += os.read(fd, 65536)
    os.kill(pid, signal.SIGINT)
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode())
sys.stderr.write(str(os.waitstatus_to_exitcode(status)))
