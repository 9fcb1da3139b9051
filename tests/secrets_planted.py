"""Secrets of every kind yurudb must find, made up at run time (random, never a real key), each as a
transcript would hold it: in a prompt, an `env` or `cat .env` output, a config file a tool read."""

from __future__ import annotations

import random
import string

_rng = random.Random(25)


def _chars(alphabet: str, n: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


UPPER = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"

# kind -> (the secret's value, the text it is planted in)
PLANTED: dict[str, tuple[str, str]] = {}


def _plant(kind: str, value: str, text: str) -> None:
    PLANTED[kind] = (value, text.replace("{value}", value))


_plant("aws-access-key", "AKIA" + _chars(UPPER, 16), "export AWS_ACCESS_KEY_ID={value}\nexport AWS_REGION=eu-west-1")
_plant("aws-secret-key", _chars(B64, 40), "[default]\naws_secret_access_key = {value}\n")
_plant("github-token", "ghp_" + _chars(ALNUM, 36), "git remote set-url origin https://x:{value}@github.com/me/repo.git")
_plant("anthropic-key", "sk-ant-api03-" + _chars(URLSAFE, 93) + "AA", "my key is {value} can you check why it fails?")
_plant("openai-key", "sk-proj-" + _chars(URLSAFE, 64), 'client = OpenAI(api_key="{value}")')
_plant("private-key", "\n".join(_chars(B64, 70) for _ in range(6)),
       "$ cat ~/.ssh/id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----\n{value}\n-----END OPENSSH PRIVATE KEY-----\n")
_plant("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI" + _chars(URLSAFE, 30) + "." + _chars(URLSAFE, 43),
       "Authorization: Bearer {value}")
_plant("env-secret", _chars(ALNUM, 24), "$ cat .env\nDEBUG=true\nDATABASE_PASSWORD={value}\nPORT=8000\n")
_plant("url-password", _chars(ALNUM, 14), "DATABASE_URL is postgres://app:{value}@db.internal:5432/app")
_plant("slack-token", "xoxb-" + _chars(string.digits, 12) + "-" + _chars(string.digits, 13) + "-" + _chars(ALNUM, 24),
       "SLACK_BOT={value}")
_plant("stripe-key", "sk_live_" + _chars(ALNUM, 32), "stripe.api_key = '{value}'")
_plant("google-api-key", "AIza" + _chars(URLSAFE, 35), "const firebaseConfig = {{ apiKey: '{value}' }}".replace("{{", "{")
       .replace("}}", "}"))
_plant("password-assignment", "Tr0ub4dor&3-" + _chars(ALNUM, 6), 'settings = {"db_password": "{value}", "debug": false}')

# what must not be flagged: ids, hashes, placeholders, variables, a word next to a keyword
NOT_SECRETS = [
    "session 258c7280-ae70-4798-800f-63464d01a85d resumed",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    'password = "changeme"',
    "API_KEY=${API_KEY}",
    "SECRET_KEY=your-secret-key-here",
    "export GITHUB_TOKEN=<your token>",
    "token = ReviewTokenStore.mint(project.id)",
    "postgres://user:password@localhost/db",
    "mailto:someone@example.com and git@github.com:me/repo.git",
    "the task-runner uses sk-learn style names",
    "msg_01XFDUDYJgAACzvnptvVoYEL and toolu_01A09q90qw90lq917835lq9",
    "const token = await getToken();",
    'headers["Authorization"] = f"Bearer {token}"',
]
