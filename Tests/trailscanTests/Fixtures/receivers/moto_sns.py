"""SNS for the notification tests: a topic on a running moto_server, read back through SQS.

  moto_sns.py setup ENDPOINT   -> creates an IAM user allowed SNS and SQS, a topic with an SQS
                                  subscription, then switches moto's request authentication on (from
                                  then on a wrong secret is SignatureDoesNotMatch); prints JSON with the
                                  user's key, the topic ARN and the queue URL.
  moto_sns.py read ENDPOINT KEY SECRET QUEUE_URL
                               -> prints each message published so far, one JSON object per line
                                  (Subject, Message, MessageAttributes as SNS delivers them to SQS).
"""
import json
import sys
import urllib.request

import boto3


def client(service, endpoint, key="setup", secret="setup"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


def setup(endpoint):
    iam = client("iam", endpoint)
    iam.create_user(UserName="trailscan")
    iam.put_user_policy(UserName="trailscan", PolicyName="alerts", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sns:*", "sqs:*"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="trailscan")["AccessKey"]
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="security-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"})).read()
    print(json.dumps({"accessKey": key["AccessKeyId"], "secretKey": key["SecretAccessKey"], "topicArn": topic, "queueUrl": queue}))


def read(endpoint, key, secret, queue):
    sqs = client("sqs", endpoint, key, secret)
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        for message in messages:
            body = json.loads(message["Body"])
            print(json.dumps({"Subject": body.get("Subject"), "Message": body.get("Message"),
                              "MessageAttributes": body.get("MessageAttributes", {})}))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2])
    else:
        read(*sys.argv[2:6])
