"""deploy/ checked against moto (CloudFormation, SNS, SQS, S3, IAM with signatures and policies
enforced) and systemd's own analyzer:

  * the CloudFormation template creates the queue (visibility, retention, long polling), the
    dead-letter queue and its redrive policy, the topic and the queue's subscription; a CloudTrail
    notification published to the topic arrives in the queue, and `ctindex run`, signed with the
    keys of a user that holds only deploy/iam/run-policy.json, indexes the file it names;
  * the run policy is enough for the service and no more (no PutObject, no SendMessage); the replay
    policy is enough for `ctindex replay s3:// --enqueue`;
  * the queue and topic policies (which moto does not model) say what they must;
  * with RawMessageDelivery=true the envelope subscription gives way to the raw one;
  * the IAM documents are well-formed, name only the documented placeholders, and grant no "*";
  * the systemd unit passes `systemd-analyze verify`, scores well in `systemd-analyze security`,
    runs as a non-root user with Restart= and MemoryMax=, and its command line is one `ctindex run`
    accepts."""
import glob
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
sys.dont_write_bytecode = True

import fakelib  # noqa: E402

fakelib.require_or_skip(modules=("boto3", "yaml"), programs=("moto_server",))
import boto3  # noqa: E402
import yaml  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
ACCOUNT = "123456789012"  # moto's
PLACEHOLDERS = {"AWS_REGION": "us-east-1", "ACCOUNT_ID": ACCOUNT, "QUEUE_NAME": "ctindex", "TRAIL_BUCKET": "trail",
                "TRAIL_PREFIX": "org/", "DOMAIN_NAME": "cloudtrail-1", "BACKFILL_QUEUE_NAME": "backfill",
                "OPENSEARCH_DOMAIN": "trail-search",
                "TRAIL_KMS_KEY_ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
check = fakelib.Checks()


def policy(name):
    text = open(os.path.join(DEPLOY, "iam", name)).read()
    used = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    check(used <= set(PLACEHOLDERS), f"{name}: only documented placeholders", str(used - set(PLACEHOLDERS)))
    return json.loads(re.sub(r"\$\{([A-Z_]+)\}", lambda m: PLACEHOLDERS[m.group(1)], text))


def check_policies():
    for path in sorted(glob.glob(os.path.join(DEPLOY, "iam", "*.json"))):
        name = os.path.basename(path)
        doc = policy(name)
        ok = doc.get("Version") == "2012-10-17" and doc.get("Statement")
        for st in doc.get("Statement", []):
            actions = st.get("Action") if isinstance(st.get("Action"), list) else [st.get("Action")]
            resources = st.get("Resource", []) if isinstance(st.get("Resource", []), list) else [st.get("Resource")]
            ok = ok and st.get("Sid") and st.get("Effect") == "Allow" and all(actions)
            ok = ok and not any("*" in a for a in actions) and "*" not in resources
        check(bool(ok), f"{name}: well-formed, every statement named, no '*' action or resource")
    listing = policy("replay-policy.json")["Statement"][0]
    check(listing["Action"] == "s3:ListBucket" and
          listing["Condition"]["StringLike"]["s3:prefix"] == ["org/AWSLogs/*"],
          "replay policy: listing is limited to PREFIX/AWSLogs/ (moto does not enforce conditions)")


def cfn_loader():
    """A YAML loader that keeps CloudFormation's short-form tags as {"Fn::X": value}."""
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        name = "Ref" if suffix == "Ref" else "Fn::" + suffix
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".")
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", construct)
    return Loader


def check_template_policies(template):
    res = template["Resources"]
    qp = res["QueuePolicy"]["Properties"]
    st = qp["PolicyDocument"]["Statement"][0]
    check(qp["Queues"] == [{"Ref": "Queue"}] and st["Principal"] == {"Service": "sns.amazonaws.com"} and
          st["Action"] == "sqs:SendMessage" and st["Resource"] == {"Fn::GetAtt": ["Queue", "Arn"]} and
          st["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}},
          "queue policy: only the topic may send to the queue")
    tp = res["TopicPolicy"]["Properties"]
    st = tp["PolicyDocument"]["Statement"][0]
    check(tp["Topics"] == [{"Ref": "Topic"}] and st["Principal"] == {"Service": "cloudtrail.amazonaws.com"} and
          st["Action"] == "sns:Publish" and "Fn::If" in st["Condition"],
          "topic policy: CloudTrail may publish, limited to the trail (or the account)")
    raw = res["RawSubscription"]
    check(raw.get("Condition") == "UseRawDelivery" and raw["Properties"]["RawMessageDelivery"] is True,
          "raw delivery: a subscription of its own, only when asked for")


def check_systemd(tmp):
    unit = open(os.path.join(DEPLOY, "systemd", "ctindex.service")).read()
    env_example = os.path.join(DEPLOY, "systemd", "ctindex.env.example")
    for key in ("DynamicUser=yes", "Restart=always", "MemoryMax=", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "KillSignal=SIGTERM"):
        check(key in unit, f"systemd unit: {key}")
    check(not re.search(r"^User=root", unit, re.M), "systemd unit: not root")
    env = {}
    for line in open(env_example):
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    exec_line = re.search(r"^ExecStart=(.*?)(?<!\\)$", unit, re.M | re.S)
    command = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", unit, re.M).group(1).replace("\\\n", " ")
    used = set(re.findall(r"\$\{?([A-Z_]+)\}?", command))
    check(exec_line and used <= set(env), "systemd unit: every variable of ExecStart is in the env example",
          str(used - set(env)))
    words = []
    for word in shlex.split(command):
        m = re.fullmatch(r"\$([A-Z_]+)", word)
        if m:
            words.extend(env.get(m.group(1), "").split())
        else:
            words.append(re.sub(r"\$\{([A-Z_]+)\}", lambda mm: env.get(mm.group(1), ""), word))
    check(words[0] == "/usr/local/bin/ctindex" and words[1] == "run", "systemd unit: runs `ctindex run`")
    p = subprocess.run([BIN, *words[1:], "--help"], capture_output=True, text=True)
    check(p.returncode == 0, "systemd unit: `ctindex run` accepts its command line", p.stderr[-300:])
    if not shutil.which("systemd-analyze"):
        print("note: systemd-analyze not found, unit not verified")
        return
    copy = os.path.join(tmp, "ctindex.service")
    with open(copy, "w") as f:
        f.write(unit.replace("/usr/local/bin/ctindex", BIN).replace("/etc/ctindex/ctindex.env", env_example))
    p = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True)
    check(p.returncode == 0 and not p.stderr.strip(), "systemd-analyze verify: no complaint", p.stderr[-800:])
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", copy], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout + p.stderr)
    check(m and float(m.group(1)) <= 2.0, f"systemd-analyze security: exposure {m.group(1) if m else '?'} <= 2.0",
          (p.stdout + p.stderr)[-500:])


def user_with(iam, kw, name, doc, moto_aliases=True):
    """An IAM user holding only doc; returns boto3 client kwargs and environment for its keys."""
    if moto_aliases:
        # moto authorizes a batch call by its own name; AWS uses the single-message action for it
        # ("You cannot set permissions explicitly for ...Batch", SQS developer guide).
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            st["Action"] = actions + [a + "Batch" for a in actions if a in
                                      ("sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage")]
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(doc))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-deploy-")
    try:
        check_policies()
        template_text = open(os.path.join(DEPLOY, "cloudformation", "ctindex-queue.yaml")).read()
        template = yaml.load(template_text, Loader=cfn_loader())
        check_template_policies(template)
        check_systemd(tmp)
        run_stack(tmp, template_text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


def run_stack(tmp, template_text):
    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(BUILD, "bench", "ctgen"), "--out", corpus, "--files", "3", "--seed", "5",
                    "--accounts", "1", "--regions", "1"], check=True, capture_output=True)
    files = sorted(glob.glob(os.path.join(corpus, "AWSLogs", "**", "*.json.gz"), recursive=True))
    keys = ["org/" + os.path.relpath(p, corpus) for p in files]
    ids = {r["eventID"] for p in files for r in json.loads(gzip.decompress(open(p, "rb").read()))["Records"]}
    with fakelib.MotoServer(no_auth_actions=3, raw_uri_signing=True) as moto:
        akid, secret = moto.create_admin_key()
        kw = moto.client_kwargs(akid, secret)
        cf, sqs, sns, s3, iam = (boto3.client(s, **kw) for s in ("cloudformation", "sqs", "sns", "s3", "iam"))
        cf.create_stack(StackName="ctindex", TemplateBody=template_text)
        stack = cf.describe_stacks(StackName="ctindex")["Stacks"][0]
        out = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        check(stack["StackStatus"] == "CREATE_COMPLETE" and {"QueueUrl", "DeadLetterQueueUrl", "TopicArn"} <= set(out),
              f"stack created with its outputs ({stack['StackStatus']})", str(out))
        q = sqs.get_queue_url(QueueName="ctindex")["QueueUrl"]
        dlq = sqs.get_queue_url(QueueName="ctindex-dlq")["QueueUrl"]
        qa = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
        da = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(qa.get("RedrivePolicy", "{}"))
        check(qa["VisibilityTimeout"] == "300" and qa["MessageRetentionPeriod"] == "345600" and
              qa["ReceiveMessageWaitTimeSeconds"] == "20", "queue: visibility 300 s, 4 days, long polling", str(qa))
        check(redrive.get("deadLetterTargetArn") == da["QueueArn"] and int(redrive.get("maxReceiveCount", 0)) == 5,
              "queue: redrive to the dead-letter queue after 5 receives", str(redrive))
        check(da["MessageRetentionPeriod"] == "1209600" and out.get("DeadLetterQueueArn") == da["QueueArn"],
              "dead-letter queue: keeps messages 14 days")
        topic = out.get("TopicArn")
        subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        check(len(subs) == 1 and subs[0]["Protocol"] == "sqs" and subs[0]["Endpoint"] == qa["QueueArn"],
              "topic: the queue is subscribed", str(subs))
        attrs = sns.get_subscription_attributes(SubscriptionArn=subs[0]["SubscriptionArn"])["Attributes"] if subs else {}
        check(attrs.get("RawMessageDelivery", "false") == "false", "topic: envelope delivery by default")

        # A CloudTrail notification through the topic reaches the queue, and the service indexes it.
        s3.create_bucket(Bucket="trail")
        for path, key in zip(files, keys):
            s3.upload_file(path, "trail", key)
        sns.publish(TopicArn=topic, Message=json.dumps({"s3Bucket": "trail", "s3ObjectKey": keys}))
        peek = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=1, VisibilityTimeout=0,
                                   WaitTimeSeconds=2).get("Messages", [])
        body = json.loads(peek[0]["Body"]) if peek else {}
        check(body.get("Type") == "Notification" and body.get("TopicArn") == topic and
              json.loads(body.get("Message", "{}")).get("s3ObjectKey") == keys,
              "a message published to the topic arrives in the queue (SNS envelope)", str(body)[:300])
        run_key = user_with(iam, kw, "ctindex-run", policy("run-policy.json"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=run_key[0], AWS_SECRET_ACCESS_KEY=run_key[1], AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=moto.url, AWS_EC2_METADATA_DISABLED="true", HOME=tmp)
        outdir = os.path.join(tmp, "out")
        p = subprocess.run([BIN, "run", "--queue", out["QueueUrl"], "--sink", "dir:" + outdir, "--receivers", "1",
                            "--wait", "1", "--exit-when-idle", "2", "--stats-interval", "0", "--dead-letter",
                            os.path.join(tmp, "dead.jsonl")], env=env, capture_output=True, text=True, timeout=120)
        got = {d["id"] for path in glob.glob(os.path.join(outdir, "batch-*.json")) for d in json.load(open(path))}
        left = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages",
                                                                     "ApproximateNumberOfMessagesNotVisible"])
        left = sum(int(v) for v in left["Attributes"].values())
        check(p.returncode == 0 and got == ids and left == 0,
              f"`ctindex run` with only the run policy indexes the file and deletes the message "
              f"({p.returncode}, {len(got)} of {len(ids)}, {left} left)", p.stderr[-1500:])
        run_clients = moto.client_kwargs(*run_key)
        s3.put_object(Bucket="trail", Key="other/x", Body=b"x")
        rs3, rsqs = boto3.client("s3", **run_clients), boto3.client("sqs", **run_clients)
        attempts = {"s3:PutObject": lambda: rs3.put_object(Bucket="trail", Key="org/AWSLogs/x", Body=b"x"),
                    "s3:GetObject outside PREFIX/AWSLogs/": lambda: rs3.get_object(Bucket="trail", Key="other/x"),
                    "sqs:SendMessage": lambda: rsqs.send_message(QueueUrl=q, MessageBody="x")}
        denied, allowed = [], []
        for what, call in attempts.items():
            try:
                call()
                allowed.append(what)
            except Exception as e:  # must be an authorization refusal, nothing else
                (denied if "denied" in str(e).lower() or "(403)" in str(e) else allowed).append(what)
        check(not allowed, "the run policy grants nothing more (PutObject, GetObject elsewhere, SendMessage denied)",
              str(allowed))

        # The replay policy is enough for an enqueued backfill.
        backfill = sqs.create_queue(QueueName="backfill")["QueueUrl"]
        replay_key = user_with(iam, kw, "ctindex-replay", policy("replay-policy.json"))
        renv = dict(env, AWS_ACCESS_KEY_ID=replay_key[0], AWS_SECRET_ACCESS_KEY=replay_key[1])
        p = subprocess.run([BIN, "replay", "s3://trail/org", "--since", "2024-05-01", "--until", "2024-05-01",
                            "--enqueue", backfill, "--no-progress"], env=renv, capture_output=True, text=True,
                           timeout=120)
        n = int(sqs.get_queue_attributes(QueueUrl=backfill, AttributeNames=["ApproximateNumberOfMessages"])
                ["Attributes"]["ApproximateNumberOfMessages"])
        check(p.returncode == 0 and n == len(keys),
              f"`ctindex replay --enqueue` with only the replay policy ({p.returncode}, {n} of {len(keys)} messages)",
              p.stderr[-1000:])

        # Raw delivery: the envelope subscription gives way to the raw one (which moto does not model).
        cf.create_stack(StackName="raw", TemplateBody=template_text,
                        Parameters=[{"ParameterKey": "Name", "ParameterValue": "ctindex-raw"},
                                    {"ParameterKey": "RawMessageDelivery", "ParameterValue": "true"}])
        raw_topic = {o["OutputKey"]: o["OutputValue"] for o in
                     cf.describe_stacks(StackName="raw")["Stacks"][0]["Outputs"]}["TopicArn"]
        check(sns.list_subscriptions_by_topic(TopicArn=raw_topic)["Subscriptions"] == [],
              "RawMessageDelivery=true: no envelope subscription")


if __name__ == "__main__":
    sys.exit(main())
