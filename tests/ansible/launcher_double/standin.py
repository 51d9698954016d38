#!/usr/bin/python3
"""Stand-in for discourse_docker's `launcher` and for `docker` (see README.md): NOT the real
tools. Installed as both names; what it does depends on the name it is called by."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STATE = Path(os.environ.get("LAUNCHER_DOUBLE_STATE", "/var/lib/launcher-double/state.json"))
STATUS = STATE.with_name("status.json")  # written by the status server alone
VERSION = "Docker version 27.3.1, build stand-in"
# What the real launcher names as bundled with Discourse (BUNDLED_PLUGINS), a few of them; the
# role reads this list from the launcher it checked out.
BUNDLED_PLUGINS = ("discourse-solved", "discourse-reactions", "discourse-data-explorer")


def load() -> dict:
    if STATE.exists():
        return json.loads(STATE.read_text())
    return {"containers": {}, "api_key_hashes": [], "calls": [], "fail_bootstraps": 0}


def save(state: dict) -> None:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    tmp = STATE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(STATE)


def record(state: dict, tool: str, args: list, env_names: list | None = None) -> None:
    state["calls"].append({"tool": tool, "args": args, "env": env_names or [], "time": time.time()})


# -- the container's "web server": /srv/status ------------------------------------------------
def serve(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            counts = json.loads(STATUS.read_text()) if STATUS.exists() else {"requests": 0, "since_start": 0}
            counts["requests"] += 1
            counts["since_start"] += 1
            STATUS.write_text(json.dumps(counts))
            booting = counts["since_start"] <= 2
            body = b"booting" if booting else b"ok"
            self.send_response(502 if booting else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def stop_server(container: dict) -> None:
    pid = container.pop("server_pid", None)
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        time.sleep(0.2)


def start_server(state: dict, name: str, config: str) -> None:
    match = re.search(r'^\s*-\s*"(\d+):80"', config, re.M)
    port = int(match.group(1)) if match else 80
    proc = subprocess.Popen([sys.executable, __file__, "__serve", str(port)], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state["containers"][name]["server_pid"] = proc.pid
    STATUS.parent.mkdir(parents=True, exist_ok=True)
    counts = json.loads(STATUS.read_text()) if STATUS.exists() else {"requests": 0}
    STATUS.write_text(json.dumps({**counts, "since_start": 0}))


# -- launcher -------------------------------------------------------------------------------
def env_lines(config: str) -> list:
    """The env: section of app.yml, as the real launcher passes it to `docker run -e`."""
    found, inside = [], False
    for line in config.splitlines():
        if re.match(r"^\S", line):
            inside = line.startswith("env:")
            continue
        m = re.match(r"^  ([A-Za-z_][A-Za-z0-9_]*):\s*(.*)$", line)
        if inside and m:
            found.append(f"{m.group(1)}={m.group(2).strip().strip(chr(34))}")
    return found


def launcher(argv: list) -> int:
    if len(argv) < 2:
        print("Usage: launcher COMMAND CONFIG (stand-in)")
        return 1
    command, name = argv[0], argv[1]
    config_file = Path("containers") / f"{name}.yml"
    state = load()
    record(state, "launcher", argv)
    container = state["containers"].get(name)
    if command in ("rebuild", "bootstrap"):
        if not config_file.exists():
            print(f"Config file '{config_file}' not found.")
            save(state)
            return 1
        config = config_file.read_text()
        if container and container.get("state") == "running":
            print("Stopping old container\n+ docker stop -t 600 " + name)
            stop_server(container)
            container["state"] = "exited"
        if state.get("fail_bootstraps", 0) > 0:
            state["fail_bootstraps"] -= 1
            print("FAILED TO BOOTSTRAP (launcher double: a failure the test asked for)")
            state["containers"].pop(name, None)  # a failed first bootstrap leaves no container
            save(state)
            return 1
        # The real launcher starts the container under `set -x`: the environment is printed.
        print("+ docker run --shm-size=512m -d " + " ".join(f"-e {e}" for e in env_lines(config))
              + f" --name {name} local_discourse/{name} /sbin/boot")
        state["containers"][name] = {"state": "running", "config_sha256": hashlib.sha256(config.encode()).hexdigest()}
        start_server(state, name, config)
        save(state)
        return 0
    if command == "start":
        if not container:
            print(f"Unable to find image 'local_discourse/{name}' (launcher double)")
            save(state)
            return 1
        if container["state"] != "running":
            print(f"starting up existing container\n+ docker start {name}")
            container["state"] = "running"
            start_server(state, name, config_file.read_text())
        save(state)
        return 0
    if command in ("stop", "destroy"):
        if container:
            stop_server(container)
            container["state"] = "exited"
            if command == "destroy":
                state["containers"].pop(name)
        save(state)
        return 0
    print(f"launcher double: {command} is not played")
    save(state)
    return 1


# -- docker ---------------------------------------------------------------------------------
def docker(argv: list) -> int:
    state = load()
    if argv[:1] == ["--version"]:
        print(VERSION)
        return 0
    if argv[:1] == ["ps"]:
        record(state, "docker", argv)
        save(state)
        pattern = next((a.split("=", 1)[1] for a in argv if a.startswith("name=")), ".*")
        for name, container in state["containers"].items():
            if re.search(pattern, "/" + name):
                print(container["state"])
        return 0
    if argv[:1] == ["exec"]:
        args, env_names = argv[1:], []
        while args and args[0] in ("--env", "-e"):
            env_names.append(args[1].split("=", 1)[0])
            args = args[2:]
        record(state, "docker", ["exec", *args[:3]], env_names)
        name, command = args[0], args[1:]
        container = state["containers"].get(name)
        if not container or container["state"] != "running":
            save(state)
            print(f"Error response from daemon: container {name} is not running", file=sys.stderr)
            return 1
        if command[:2] == ["rails", "r"] and "ApiKey" in command[2] and "SPACE_DISCOURSE_API_KEY" in env_names:
            digest = hashlib.sha256(os.environ["SPACE_DISCOURSE_API_KEY"].encode()).hexdigest()
            if digest in state["api_key_hashes"]:
                print("present")
            else:
                state["api_key_hashes"].append(digest)
                print("installed")
        save(state)
        return 0
    record(state, "docker", argv[:2])
    save(state)
    print(f"docker double: {' '.join(argv[:1])} is not played", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["__serve"]:
        serve(int(sys.argv[2]))
    elif Path(sys.argv[0]).name == "docker":
        sys.exit(docker(sys.argv[1:]))
    else:
        sys.exit(launcher(sys.argv[1:]))
