/// The two trusted Python programs of the sandbox. They are written to the
/// scratch directory as files next to the untrusted code, never interpolated
/// with it.
enum SandboxScripts {
    /// Runs first, as the sandbox's process 1 where a PID namespace exists:
    /// private mounts (a fresh `/tmp` holding only the run's files; the working
    /// directory, home and sockets hidden under empty tmpfs), rlimits set with
    /// `setrlimit`, `no_new_privs`, then the drop to uid nobody, then `exec`.
    /// Reads its settings from `sandbox.json`.
    static let launcher = #"""
        import ctypes, json, os, resource, sys

        config = json.load(open(sys.argv[1]))
        libc = ctypes.CDLL(None, use_errno=True)
        MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
        work = config["scratch"]
        if config["private_mounts"]:
            files = {}
            for name in config["files"]:
                with open(os.path.join(config["scratch"], name), "rb") as handle:
                    files[name] = handle.read()
            if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
                sys.exit("sandbox: cannot make mounts private")
            for hidden in config["hide"]:
                if os.path.isdir(hidden):
                    libc.mount(b"tmpfs", hidden.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0555")
            size = ("size=%dm,mode=1777" % config["tmp_mb"]).encode()
            if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, size) != 0:
                sys.exit("sandbox: cannot mount a private /tmp")
            work = "/tmp/work"
            os.makedirs(work)
            for name, data in files.items():
                path = os.path.join(work, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(data)
            for root, dirs, names in os.walk("/tmp"):
                for entry in dirs + names:
                    os.chmod(os.path.join(root, entry), 0o777 if entry in dirs else 0o644)
            os.chmod(work, 0o777)
        os.chdir(work)
        limits = config["limits"]
        for name, value in (("RLIMIT_CPU", limits["cpu"]), ("RLIMIT_AS", limits["memory"]), ("RLIMIT_FSIZE", limits["file"]),
                            ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_CORE", 0), ("RLIMIT_NOFILE", 256)):
            resource.setrlimit(getattr(resource, name), (value, value))
        PR_SET_NO_NEW_PRIVS = 38
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            sys.exit("sandbox: cannot set no_new_privs")
        if os.getuid() == 0 and config["drop_to_nobody"]:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        os.environ.clear()
        os.environ.update(config["environment"], HOME=work, TMPDIR="/tmp" if config["private_mounts"] else work)
        os.execv(config["python"], [config["python"], "-I", "-B", config["main"]])
        """#

    /// Runs `solution.py` against each file of `tests/` in a child process of
    /// its own and prints one verdict line per test. The verdict is this
    /// process's word, never the candidate's: a test passes only when its
    /// child reports, over a pipe that is not stdout, that the test's last
    /// statement ran, and then exits normally. Exiting early with status 0 or
    /// printing a marker passes nothing; the children cannot read this
    /// process's pipes through /proc (it is not dumpable).
    static let checker = #"""
        import ctypes, os, sys

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
        tests = sorted(os.listdir("tests"), key=lambda name: int(name.split(".")[0]))
        solution = open("solution.py").read()
        for index, name in enumerate(tests):
            source = open(os.path.join("tests", name)).read()
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                os.dup2(2, 1)
                namespace = {"__name__": "__candidate__"}
                try:
                    exec(compile(solution, "solution.py", "exec"), namespace)
                    exec(compile(source, "test_%d.py" % index, "exec"), namespace)
                except BaseException as error:
                    print("test %d failed:" % index, type(error).__name__, str(error)[:300], file=sys.stderr)
                    os._exit(1)
                os.write(write_end, b"done")
                os._exit(0)
            os.close(write_end)
            report = b""
            while True:
                chunk = os.read(read_end, 64)
                if not chunk:
                    break
                report += chunk
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
            passed = report == b"done" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            sys.__stdout__.write("STRATA_VERDICT %d %s\n" % (index, "pass" if passed else "fail"))
            sys.__stdout__.flush()
        """#
}
