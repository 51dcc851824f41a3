"""Ceph's S3 conformance suite (s3-tests) against Nimbus and moto_server, side by side.

s3-tests is run in its own way: a ``s3tests.conf`` naming a running server and its keys, then
pytest over ``s3tests/functional/test_s3.py`` and ``test_headers.py``. The suite is not part of
this repository (its code must not be committed here): point ``--suite`` at a checkout of
github.com/ceph/s3-tests. The selection is the core one (``nimbus.services.s3.conformance``):
no ACLs, policies, encryption, object lock, website, logging or lifecycle expiry clocks, and
not the tests the suite itself marks as failing on AWS.

    bench/run.sh s3-conformance --suite /path/to/s3-tests [--only nimbus] [-k EXPR] [--workers 1]

``--part policies`` runs instead the suite's bucket policy and IAM user/group/role policy tests
(``test_s3.py`` and ``test_iam.py``, less those marked ``fails_on_aws``), with users made through
Nimbus's IAM (see ``nimbus_keys``) and the plugin ``s3tests_region`` (clients made for region "" sign
for us-east-1; ``--open-buckets`` turns Block Public Access off on each new bucket, as RGW has none).

Prints Markdown: pass/fail counts per server, then each selected test that fails on Nimbus, with
whether it is a listed RGW-only exception and whether moto passes it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from s3_bench import Server, clean_env, start_moto, start_nimbus

from nimbus.services.s3.conformance import RGW_ONLY, core_selection

REPO_ROOT = Path(__file__).resolve().parent.parent
# s3-tests' config sections, each a user; Nimbus gives each one its own access key
USER_SECTIONS = ("s3 main", "s3 alt", "s3 tenant", "iam", "iam root", "iam alt root")
# the policies and IAM tests (bucket policies, user, group and role policies), less those marked as
# failing on AWS; the tests that need a second account skip themselves ([iam alt root] is no root)
POLICY_SELECTION = [
    "s3tests/functional/test_s3.py",
    "s3tests/functional/test_iam.py",
    "-m",
    "(bucket_policy or user_policy or group_policy or role_policy) and not fails_on_aws",
]


@dataclass
class Outcome:
    counts: Counter[str] = field(default_factory=Counter)
    by_test: dict[str, str] = field(default_factory=dict)  # test name -> passed/failed/error/skipped
    messages: dict[str, str] = field(default_factory=dict)


def _allowed(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def nimbus_keys(server: Server, part: str) -> dict[str, tuple[str, str]]:
    """The root key for the main user; for the others, IAM users of the same account named as the
    config's ``user_id`` (made through Nimbus's IAM API, as a user would), each allowed all of S3.
    For the policy tests, [iam root] is the account's root, [iam] administers IAM as well (it puts
    the policies of [s3 alt] in the user-policy tests), and [s3 alt] may only create and list
    buckets: in one account it reaches another user's bucket only where a policy lets it, as RGW's
    alt user, another account there, does."""
    keys = {"s3 main": (server.access_key, server.secret_key)}
    base = {section: ("s3:*",) for section in USER_SECTIONS}
    if part == "policies":
        keys["iam root"] = keys["s3 main"]
        base |= {"iam": ("s3:*", "iam:*"), "s3 alt": ("s3:CreateBucket", "s3:ListAllMyBuckets")}
    iam = server.client("iam")
    for index, section in enumerate(USER_SECTIONS):
        if section in keys:
            continue
        name = f"user{index}"
        iam.create_user(UserName=name)
        actions = base[section]
        iam.put_user_policy(UserName=name, PolicyName="base", PolicyDocument=_allowed(*actions))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys[section] = (key["AccessKeyId"], key["SecretAccessKey"])
    return keys


def write_config(path: Path, server: Server, keys: dict[str, tuple[str, str]]) -> None:
    host, port = server.endpoint_url.removeprefix("http://").rsplit(":", 1)
    lines = [
        "[DEFAULT]", f"host = {host}", f"port = {port}", "is_secure = False", "ssl_verify = False", "",
        "[fixtures]", "bucket prefix = s3t-{random}-", "",
    ]  # fmt: skip
    for index, section in enumerate(USER_SECTIONS):
        access, secret = keys[section]
        lines += [
            f"[{section}]", f"display_name = user{index}", f"user_id = user{index}",
            f"email = user{index}@example.com", f"access_key = {access}", f"secret_key = {secret}",
        ]  # fmt: skip
        if section == "s3 main":
            lines.append("api_name = eu-west-1")  # a bucket's location constraint (us-east-1 has none)
        if section == "s3 tenant":
            lines.append("tenant = tenant")
        lines.append("")
    path.write_text("\n".join(lines))


def run_suite(suite: Path, config: Path, work: Path, name: str, args: argparse.Namespace) -> Outcome:
    report = work / f"{name}-junit.xml"
    command = [
        sys.executable, "-m", "pytest", *(POLICY_SELECTION if args.part == "policies" else core_selection()),
        "-p", "no:cacheprovider", "-q", "--tb=line",
        "-o", "addopts=", f"--junitxml={report}", f"--timeout={args.test_timeout}",
    ]  # fmt: skip
    if args.k and "-k" in command:
        command[command.index("-k") + 1] += f" and ({args.k})"
    elif args.k:
        command += ["-k", args.k]
    if args.workers > 1:
        command += ["-n", str(args.workers)]
    env = {**clean_env(), "S3TEST_CONF": str(config)}
    if args.part == "policies":  # the suite's IAM clients sign for us-east-1, not "" (see the plugin)
        command += ["-p", "s3tests_region"]
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent) + os.pathsep + env["PYTHONPATH"]
        env["S3TESTS_OPEN_BUCKETS"] = "1" if args.open_buckets else "0"
    log = work / f"{name}-pytest.log"
    with open(log, "wb") as out:
        subprocess.run(command, cwd=suite, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if not report.exists():
        raise RuntimeError(f"s3-tests wrote no report for {name}:\n{log.read_text()[-4000:]}")
    return parse_junit(report)


def parse_junit(report: Path) -> Outcome:
    outcome = Outcome()
    for case in ET.parse(report).iter("testcase"):
        result, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                result = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "").splitlines()[0][:160] if child.get("message") else ""
        if result == "skipped" and case.get("name") in outcome.by_test:
            continue
        name = case.get("name", "")
        if result == "error" and outcome.by_test.get(name) in ("passed", "failed"):
            result = "failed"  # a teardown error after the test body ran counts once, as a failure
            outcome.counts[outcome.by_test[name]] -= 1
        outcome.by_test[name] = result
        outcome.messages[name] = message
        outcome.counts[result] += 1
    return outcome


def start_server(name: str, work: Path) -> Server:
    server_dir = work / name
    server_dir.mkdir()
    return start_nimbus(server_dir) if name == "nimbus" else start_moto(server_dir)


def server_keys(server: Server, part: str) -> dict[str, tuple[str, str]]:
    if server.name == "Nimbus":
        return nimbus_keys(server, part)
    # moto accepts any key; distinct ids keep the suite's users apart
    return {section: (f"AKIAMOTO{index:012d}", "secret") for index, section in enumerate(USER_SECTIONS)}


def report(results: dict[str, Outcome]) -> str:
    names = list(results)
    lines = ["| result | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for result in ("passed", "failed", "error", "skipped"):
        lines.append(f"| {result} | " + " | ".join(str(results[n].counts[result]) for n in names) + " |")
    nimbus = results.get("Nimbus")
    if nimbus is None:
        return "\n".join(lines)
    moto = results.get("moto")
    failing = sorted(test for test, result in nimbus.by_test.items() if result in ("failed", "error"))
    lines += ["", f"Failing on Nimbus ({len(failing)}):", ""]
    for test in failing:
        notes = []
        if test in RGW_ONLY:
            notes.append(f"RGW-only: {RGW_ONLY[test]}")
        if moto is not None:
            notes.append(f"moto {moto.by_test.get(test, 'not run')}")
        lines.append(f"- `{test}` ({'; '.join(notes)}): {nimbus.messages.get(test, '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", type=Path, required=True, help="a checkout of ceph/s3-tests")
    parser.add_argument("--only", choices=["nimbus", "moto"], help="run against one server only")
    parser.add_argument(
        "--part",
        choices=["core", "policies"],
        default="core",
        help="the core selection, or the bucket policy and IAM user/group/role policy tests",
    )
    parser.add_argument(
        "--open-buckets",
        action="store_true",
        help="policies: turn Block Public Access off on each new bucket, as RGW has none (S3 turns it on)",
    )
    parser.add_argument("-k", help="a further pytest -k expression (a subset of the selection)")
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers (if installed)")
    parser.add_argument("--test-timeout", type=int, default=120, help="seconds per test")
    parser.add_argument("--keep", type=Path, help="a folder to keep each run's JUnit report and log in")
    args = parser.parse_args(argv)
    if not (args.suite / "s3tests" / "functional" / "test_s3.py").exists():
        parser.error(f"{args.suite} is not a checkout of ceph/s3-tests")
    results: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="nimbus-s3tests-") as tmp:
        work = Path(tmp)
        for name in ("nimbus", "moto"):
            if args.only and args.only != name:
                continue
            print(f"running s3-tests against {name} ...", file=sys.stderr)
            server = start_server(name, work)
            try:
                config = work / f"{name}.conf"
                write_config(config, server, server_keys(server, args.part))
                results[server.name] = run_suite(args.suite.resolve(), config, work, name, args)
            finally:
                server.stop()
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for kept in work.glob(f"{name}-*"):
                        shutil.copy(kept, args.keep / kept.name)
    print(report(results))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
