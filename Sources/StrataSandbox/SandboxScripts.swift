/// The trusted Python programs of the sandbox. They are written to the run's
/// directory as files beside the untrusted code, never interpolated with it.
///
/// Grading runs two sandboxes that share nothing but two pipes: the
/// candidate's, which holds only the candidate's code and answers calls, and
/// the tests', which holds only the tests, calls the candidate's functions
/// through those pipes and writes the verdicts on a descriptor the candidate
/// never holds. Values cross as plain data (numbers, strings, lists, tuples,
/// dicts, sets, bytes, None), rebuilt from builtin types on the tests' side,
/// so a returned object whose `__eq__` always answers True cannot exist there,
/// and the expected values never enter the candidate's sandbox.
enum SandboxScripts {
    /// Plain data on the wire: exact builtin types only (a subclass could
    /// override `__eq__`), tagged JSON, bounded depth and size.
    static let plainData = #"""
        import json, os, select, types

        MAX_FRAME = 1 << 22
        ITERATORS = (types.GeneratorType, map, filter, zip, reversed, enumerate, range)

        def encode(value, depth=0):
            if depth > 100:
                raise ValueError("the value is nested too deeply")
            kind = type(value)
            if value is None or kind is bool or kind is str:
                return value
            if kind is int:
                return {"int": str(value)}
            if kind is float:
                return {"float": repr(value)}
            if kind is complex:
                return {"complex": [repr(value.real), repr(value.imag)]}
            if kind is bytes:
                return {"bytes": value.hex()}
            if kind is list:
                return {"list": [encode(item, depth + 1) for item in value]}
            if kind is tuple:
                return {"tuple": [encode(item, depth + 1) for item in value]}
            if kind is set or kind is frozenset:
                return {kind.__name__: [encode(item, depth + 1) for item in value]}
            if kind is dict:
                return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
            if isinstance(value, ITERATORS) and kind in ITERATORS:
                items = []
                for item in value:
                    if len(items) >= 100000:
                        raise ValueError("the iterator yields too many values")
                    items.append(encode(item, depth + 1))
                return {"iterator": items}
            raise TypeError("a %s is not plain data" % kind.__name__)

        def decode(value, depth=0):
            if depth > 100:
                raise ValueError("the value is nested too deeply")
            if value is None or type(value) in (bool, str):
                return value
            if type(value) is not dict or len(value) != 1:
                raise ValueError("not a plain-data value")
            (tag, body), = value.items()
            if tag == "int":
                return int(body)
            if tag == "float":
                return float(body)
            if tag == "complex":
                return complex(float(body[0]), float(body[1]))
            if tag == "bytes":
                return bytes.fromhex(body)
            items = [decode(item, depth + 1) for item in body] if tag != "dict" else None
            if tag == "list":
                return items
            if tag == "tuple":
                return tuple(items)
            if tag == "set":
                return set(items)
            if tag == "frozenset":
                return frozenset(items)
            if tag == "iterator":
                return iter(items)
            if tag == "dict":
                return {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
            raise ValueError("unknown tag %r" % tag)

        class Frames:
            """One JSON object per line on a raw descriptor, with a deadline on reads."""
            def __init__(self, read_fd, write_fd):
                self.read_fd, self.write_fd, self.buffer = read_fd, write_fd, b""

            def send(self, message):
                data = (json.dumps(message) + "\n").encode()
                while data:
                    data = data[os.write(self.write_fd, data):]

            def receive(self, seconds):
                """The next frame, or None at the end of the stream or past the deadline."""
                deadline = None if seconds is None else __import__("time").monotonic() + seconds
                while b"\n" not in self.buffer:
                    if len(self.buffer) > MAX_FRAME:
                        return None
                    if deadline is not None:
                        left = deadline - __import__("time").monotonic()
                        if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                            return None
                    chunk = os.read(self.read_fd, 65536)
                    if not chunk:
                        return None
                    self.buffer += chunk
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    frame = json.loads(line)
                except Exception:
                    return {"garbled": True}
                return frame if type(frame) is dict else {"garbled": True}

        def private_descriptors(*kept):
            """Moves the two protocol pipes off 0 and 1, closes every other inherited descriptor, points 0 at /dev/null and 1 at 2."""
            incoming, outgoing = os.dup(0), os.dup(1)
            keep = {0, 1, 2, incoming, outgoing, *kept}
            for fd in range(3, 1024):
                if fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            os.dup2(2, 1)
            return incoming, outgoing
        """#

    /// The candidate's side: for each test a fresh child loads the candidate's
    /// code and answers calls until the tests say "end"; a child that outlives
    /// the test's time is killed with its process group. Everything here runs
    /// beside the candidate's code and is trusted by nobody: whatever it
    /// answers is only ever a return value.
    static let candidate =
        plainData + #"""

            import signal, sys

            SECONDS = float(sys.argv[1])
            incoming, outgoing = private_descriptors()
            frames = Frames(incoming, outgoing)
            solution = open("/sandbox/solution.py").read()

            def serve():
                namespace = {"__name__": "__candidate__"}
                try:
                    exec(compile(solution, "solution.py", "exec"), namespace)
                except BaseException as error:
                    frames.send({"ready": False, "error": "%s: %s" % (type(error).__name__, str(error)[:300])})
                    return
                functions = sorted(name for name, value in namespace.items() if isinstance(value, types.FunctionType))
                frames.send({"ready": True, "functions": functions})
                while True:
                    request = frames.receive(None)
                    if request is None or request.get("op") != "call":
                        return
                    reply = {"id": request.get("id")}
                    try:
                        args = [decode(item) for item in request["args"]]
                        kwargs = {key: decode(item) for key, item in request["kwargs"].items()}
                        value = namespace[request["name"]](*args, **kwargs)
                        reply["value"] = encode(value)
                        reply["args"] = [encode(item) for item in args]
                    except BaseException as error:
                        reply = {"id": request.get("id"), "raised": type(error).__name__, "message": str(error)[:300]}
                    frames.send(reply)

            while True:
                request = frames.receive(None)
                if request is None:
                    break
                if request.get("op") != "begin":
                    continue
                child = os.fork()
                if child == 0:
                    os.setpgid(0, 0)
                    try:
                        serve()
                    finally:
                        sys.stdout.flush()
                        sys.stderr.flush()
                        os._exit(0)
                watch = os.pidfd_open(child)
                finished = select.select([watch], [], [], SECONDS)[0]
                reason = "finished"
                if not finished:
                    reason = "timed out after %g s" % SECONDS
                try:
                    os.killpg(child, signal.SIGKILL)
                except OSError:
                    pass
                _, status = os.waitpid(child, 0)
                if os.WIFSIGNALED(status) and reason == "finished":
                    reason = "killed by signal %d" % os.WTERMSIG(status)
                os.close(watch)
                frames.send({"ended": True, "reason": reason})
            """#

    /// The tests' side: runs each test in a fresh namespace where the
    /// candidate's functions are stand-ins that call across the pipes, and
    /// writes one verdict per test on the descriptor it was started with as
    /// stderr — which only this process and the trusted parent hold.
    static let tester =
        plainData + #"""

            import builtins, sys

            SECONDS = float(sys.argv[1])
            verdicts = os.dup(2)
            incoming, outgoing = private_descriptors(verdicts)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            frames = Frames(incoming, outgoing)
            prelude_path = "/sandbox/prelude.py"
            prelude = open(prelude_path).read() if os.path.exists(prelude_path) else None

            def implemented(source):
                """The prelude's functions with a body of their own: the tests use these, not the candidate's copies; a stub (a docstring, pass or ...) is the candidate's to write."""
                import ast
                names = set()
                for node in ast.parse(source).body:
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        stub = all(isinstance(statement, ast.Pass) or (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
                                   for statement in node.body)
                        if not stub:
                            names.add(node.name)
                return names
            tests = sorted(os.listdir("/sandbox/tests"), key=lambda name: int(name.split(".")[0]))
            SAFE_ERRORS = {name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
                           and issubclass(getattr(builtins, name), Exception)}

            def report(message):
                data = (json.dumps(message) + "\n").encode()
                while data:
                    data = data[os.write(verdicts, data):]

            class CandidateGone(Exception):
                pass

            class CandidateError(Exception):
                pass

            class Session:
                def __init__(self):
                    self.ended = False
                    self.next_id = 0

                def proxy(self, name):
                    def call(*args, **kwargs):
                        if self.ended:
                            raise CandidateGone("the candidate's process has ended")
                        self.next_id += 1
                        frames.send({"op": "call", "id": self.next_id, "name": name,
                                     "args": [encode(item) for item in args],
                                     "kwargs": {str(key): encode(item) for key, item in kwargs.items()}})
                        reply = frames.receive(SECONDS + 1)
                        if reply is None or "ended" in reply:
                            self.ended = True
                            raise CandidateGone("the candidate's process ended (%s)" % (reply or {}).get("reason", "no reply"))
                        if reply.get("id") != self.next_id:
                            raise CandidateError("the candidate answered out of turn")
                        if "raised" in reply:
                            kind = reply["raised"] if reply["raised"] in SAFE_ERRORS else None
                            error = getattr(builtins, kind) if kind else CandidateError
                            raise error(str(reply.get("message", ""))[:300])
                        for sent, back in zip(args, reply.get("args", [])):
                            returned = decode(back)
                            if type(sent) is list and type(returned) is list:
                                sent[:] = returned
                            elif type(sent) is dict and type(returned) is dict:
                                sent.clear()
                                sent.update(returned)
                        return decode(reply["value"])
                    call.__name__ = name
                    return call

            for index, name in enumerate(tests):
                source = open(os.path.join("/sandbox/tests", name)).read()
                session = Session()
                frames.send({"op": "begin"})
                ready = frames.receive(SECONDS + 1)
                passed, detail = False, None
                if ready is None or "ended" in ready:
                    session.ended = True
                    detail = "the candidate's process ended before the test"
                elif not ready.get("ready"):
                    detail = "the candidate's code did not load: %s" % str(ready.get("error", ""))[:300]
                else:
                    namespace = {"__name__": "__main__"}
                    try:
                        trusted = set()
                        if prelude is not None:
                            exec(compile(prelude, "prompt.py", "exec"), namespace)
                            trusted = implemented(prelude)
                        for function in ready.get("functions", []):
                            if type(function) is str and function.isidentifier() and function not in trusted:
                                namespace[function] = session.proxy(function)
                        exec(compile(source, "test_%d.py" % index, "exec"), namespace)
                        passed = True
                    except BaseException as error:
                        detail = "test %d failed: %s %s" % (index, type(error).__name__, str(error)[:300])
                if not session.ended:
                    frames.send({"op": "end"})
                    while True:
                        frame = frames.receive(SECONDS + 2)
                        if frame is None or "ended" in frame:
                            break
                report({"test": index, "passed": passed, "detail": detail})
            """#

    /// A single program in the sandbox, its descriptors closed past stderr.
    static let single = #"""
        import os, sys, runpy
        for fd in range(3, 1024):
            try:
                os.close(fd)
            except OSError:
                pass
        sys.argv = ["/sandbox/main.py"]
        runpy.run_path("/sandbox/main.py", run_name="__main__")
        """#
}
