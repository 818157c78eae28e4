#!/usr/bin/env python3
"""Reads local mode's mail: the .eml files in .local/outbox (or --dir), parsed as MIME.

  python3 infra/outbox.py                          # list every mail, oldest first
  python3 infra/outbox.py --last                   # the newest mail's text part
  python3 infra/outbox.py --token --subject Confirm  # the token of the newest verification mail
  python3 infra/outbox.py --token --subject Reset    # ... of the newest reset mail

--to ADDRESS and --subject WORD narrow the choice to mails to that address or whose subject
contains the word. Standard library only. (The parts are quoted-printable, so grepping the raw
files for the link does not work.)
"""
import argparse
import email
import email.policy
import pathlib
import re
import sys


def mails(directory):
    for path in sorted(pathlib.Path(directory).glob("*.eml")):
        with open(path, "rb") as f:
            yield path, email.message_from_binary_file(f, policy=email.policy.default)


def text_of(message):
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=".local/outbox")
    p.add_argument("--to")
    p.add_argument("--subject")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--last", action="store_true", help="print the newest mail's text part")
    what.add_argument("--token", action="store_true", help="print the token of the newest mail's link")
    args = p.parse_args()

    chosen = [
        (path, m)
        for path, m in mails(args.dir)
        if (not args.to or args.to.lower() in str(m["To"]).lower())
        and (not args.subject or args.subject.lower() in str(m["Subject"]).lower())
    ]
    if not args.last and not args.token:
        for path, m in chosen:
            print(f"{m['Date']}  {m['To']:<32}  {m['Subject']}  ({path.name})")
        return 0
    if not chosen:
        print(f"no mail in {args.dir} matches", file=sys.stderr)
        return 1
    text = text_of(chosen[-1][1])
    if args.last:
        print(text, end="")
        return 0
    found = re.search(r"token=([A-Za-z0-9_-]+)", text)
    if not found:
        print("the newest matching mail has no token link", file=sys.stderr)
        return 1
    print(found.group(1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
