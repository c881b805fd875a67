"""``learned-aug push``: a generator folder uploaded to the Hugging Face Hub."""

from __future__ import annotations

import argparse

from learned_aug.hub import check_repo_id, push_folder, stage_upload


def run(args: argparse.Namespace) -> int:
    """Upload ``args.folder`` to ``args.repo_id`` (or stage the files with ``--dry-run``)."""
    check_repo_id(args.repo_id)  # every check runs before the first request
    if args.dry_run is not None:
        files = stage_upload(args.folder, args.dry_run, args.repo_id)
        print(f"dry run: would upload {files} to {args.repo_id}; wrote them to {args.dry_run}/")
        return 0
    url = push_folder(
        args.folder,
        args.repo_id,
        private=args.private,
        branch=args.branch,
        commit_message=args.commit_message,
        token=args.token,
    )
    print(f"pushed {args.folder} to {args.repo_id}: {url}")
    return 0
