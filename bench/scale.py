# bench/scale.py: the scale section of bench/run (issue 18): many users in one jail, many
# jails on one host. Owns only that measurement; it changes nothing on the host outside its
# own work directory except the accounts (and their groups) it creates, all named with one
# unique prefix and all removed at the end, also when the run fails.
"""(g) scale: costs that must stay flat at a thousand users per jail and hundreds of jails.

Everything runs against a private sshd (its own config, drop-in directory, host key and
authorized-keys directory, on a loopback port it holds for it) and a private jailsmith state directory,
all under --workdir; never the machine's sshd or /etc/ssh. Beside it runs a baseline sshd
with the same settings and no drop-ins at all (AuthorizedKeysFile the same key files), so the
login and `sshd -T` figures are ratios measured in one run.

users  `apply` creating 1000, 100 and 1 accounts (create = true) in three jails, largest
       first (apply makes a run's missing accounts in one newusers batch); `apply` again
       changing nothing; `sshd -T -C user=...` and an OpenSSH login
       (`ssh ... true`) of a user of the 1000-user jail, interleaved with the same on the
       baseline sshd, while that jail is the only one (the targets), again with all three
       jails, and `sshd -T` again after the fresh jails below (each jail adds a `Match Group`
       block: one group lookup per connection); then `user NAME --create` adding accounts to
       each of those jails, with --no-reload and with a reload; `users --jail`; the first
       user of a fresh jail (the add that writes a block and reloads).
jails  1, 50 and 200 bash-only jails built without and (when `build --store` exists) with
       the shared store: time per build, disk use (du, hard links counted once, the store
       included), and `check` of every jail.
"""

import os
import secrets
import shutil
import socket
import statistics
import subprocess
import time

SSHD = "/usr/sbin/sshd"


def log(msg):
    print(msg, flush=True)


def run(argv, check=True, **kw):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} … exited {p.returncode}:\n"
                           f"{p.stderr.strip()[-2000:]}")
    return p


def timed(argv, check=True):
    """Wall seconds of one run (output captured, so the terminal costs nothing)."""
    t0 = time.perf_counter()
    run(argv, check=check)
    return time.perf_counter() - t0


def reserved_port():
    """A loopback port bound here and held, (socket, port): SO_REUSEADDR and never listening,
    so the kernel gives it to no one else while sshd, told the number, binds it (sshd sets
    SO_REUSEADDR too). Closed when the bench stops that sshd: no port is guessed."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def ms(s):
    return f"{s * 1000:.1f} ms"


def du_bytes(paths):
    """Disk use of all paths together: du counts a hard-linked inode once per invocation."""
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        return 0
    out = run(["du", "-s", "-c", "--block-size=1"] + paths).stdout.splitlines()
    return int(out[-1].split()[0])


def mib(b):
    return f"{b / 1048576:.1f} MiB"


class Sshd:
    """A private sshd: own config (with or without an Include of the drop-in dir), host key,
    PidFile and port. Stopped by its PID."""

    def __init__(self, base, name, keys_dir, include):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, mode=0o755)
        self.dropin = os.path.join(self.dir, "config.d")
        os.makedirs(self.dropin, mode=0o755)
        self.host_key = os.path.join(self.dir, "host_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.host_key])
        self.reservation, self.port = reserved_port()
        self.config = os.path.join(self.dir, "sshd_config")
        self.pidfile = os.path.join(self.dir, "sshd.pid")
        self.logfile = os.path.join(self.dir, "sshd.log")
        lines = [
            f"Include {self.dropin}/*.conf" if include else "# no drop-ins: the baseline",
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.pidfile}",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            # jailsmith's key files are KEYS_DIR/NAME; the baseline reads the same files.
            f"AuthorizedKeysFile {keys_dir}/%u" if not include else
            "AuthorizedKeysFile .ssh/authorized_keys",
            "Subsystem sftp internal-sftp",
            "StrictModes yes",
        ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        logf = open(self.logfile, "ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self.config],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"private sshd did not start; see {self.logfile}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reservation.close()


class Scale:
    """One scale run: the work directory, the private sshds, the accounts it made."""

    def __init__(self, js, workdir):
        self.js = js
        os.makedirs(workdir, mode=0o755, exist_ok=True)
        os.chmod(workdir, 0o755)
        self.base = os.path.join(workdir, f"scale-{os.getpid()}")
        os.mkdir(self.base, 0o755)
        self.state = os.path.join(self.base, "state")
        self.keys = os.path.join(self.base, "keys")
        self.systemd = os.path.join(self.base, "systemd")
        for d in (self.keys, self.systemd):
            os.mkdir(d, 0o755)
        self.prefix = "jsb" + secrets.token_hex(2)
        if any(line.startswith(self.prefix) for line in open("/etc/passwd")):
            raise RuntimeError(f"accounts named {self.prefix}* exist already; run again")
        self.sshd = Sshd(self.base, "sshd", self.keys, include=True)
        self.bare = Sshd(self.base, "baseline", self.keys, include=False)
        client = os.path.join(self.base, "client")
        os.mkdir(client, 0o700)
        self.client_key = os.path.join(client, "id_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.client_key])
        with open(self.client_key + ".pub") as f:
            self.pub = f.read().strip()
        self.jails = []
        self.next_user = 0

    def common(self):
        return ["--state-dir", self.state, "--sshd-config", self.sshd.config,
                "--sshd-config-dir", self.sshd.dropin, "--authorized-keys-dir", self.keys]

    def name(self):
        self.next_user += 1
        return f"{self.prefix}{self.next_user:05d}"

    def build_jail(self, tag):
        path = os.path.join(self.base, tag)
        os.mkdir(path, 0o755)
        run([self.js, "build", path, "--bin", "bash", "--bin", "true", "--state-dir", self.state])
        self.jails.append(path)
        return path

    def spec(self, jails_users):
        """A spec of jails (path -> [names]); every account created and deleted on prune."""
        out = []
        for path in jails_users:
            out.append(f'[[jail]]\npath = "{path}"\nbins = ["bash", "true"]\n')
        for path, names in jails_users.items():
            for n in names:
                out.append(f'[[user]]\nname = "{n}"\njail = "{path}"\ncreate = true\n'
                           f'keys = ["{self.pub}"]\ndelete_account = true\n')
        f = os.path.join(self.base, f"spec-{len(os.listdir(self.base))}.toml")
        with open(f, "w") as fh:
            fh.write("\n".join(out))
        return f

    def apply(self, spec, extra=()):
        return timed([self.js, "apply", spec, *self.common(), "--systemd-dir", self.systemd,
                      *extra])

    def add_user(self, jail, reload):
        argv = [self.js, "user", self.name(), "--jail", jail, "--create", "--key-text",
                self.pub, *self.common()]
        if not reload:
            argv.append("--no-reload")
        return timed(argv)

    def ssh(self, srv, user):
        return ["ssh", "-q", "-i", self.client_key, "-p", str(srv.port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "IdentitiesOnly=yes", f"{user}@127.0.0.1", "true"]

    def sshd_t(self, srv, user):
        return [SSHD, "-T", "-f", srv.config, "-C", f"user={user},host=localhost,addr=127.0.0.1"]

    def cleanup(self, spec_all):
        """Every account of the prefix goes (apply --prune of an empty spec, then userdel of
        whatever is left), the sshds stop, the work directory goes."""
        try:
            if spec_all:
                empty = os.path.join(self.base, "empty.toml")
                open(empty, "w").close()
                run([self.js, "apply", empty, "--prune", "--no-reload", *self.common(),
                     "--systemd-dir", self.systemd], check=False)
        finally:
            self.sshd.stop()
            self.bare.stop()
            left = [ln.split(":", 1)[0] for ln in open("/etc/passwd")
                    if ln.startswith(self.prefix)]
            for n in left:
                run(["userdel", n], check=False)
            groups = [ln.split(":", 1)[0] for ln in open("/etc/group")
                      if ln.startswith(self.prefix)]
            for g in groups:
                run(["groupdel", g], check=False)
            for j in self.jails:
                run([self.js, "destroy", j, "--state-dir", self.state, "--purge"], check=False)
            shutil.rmtree(self.base, ignore_errors=True)
            if left:
                log(f"  cleanup: {len(left)} accounts apply did not manage (added with `user`) "
                    "removed with userdel")


def interleaved(pairs, rounds):
    """pairs: [(label, argv)]; runs each once per round, order rotated; medians by label."""
    times = {label: [] for label, _ in pairs}
    for r in range(rounds):
        order = pairs[r % len(pairs):] + pairs[:r % len(pairs)]
        for label, argv in order:
            times[label].append(timed(argv))
    return {k: statistics.median(v) for k, v in times.items()}


def sshd_and_login(sc, probe_user, rounds):
    """`sshd -T -C user=…` and an OpenSSH login of `probe_user`, interleaved with the same
    on the baseline sshd: medians by label."""
    # The last apply or `user` reloaded sshd; both must let the probe user in before timing
    # starts (polled: sshd re-executes itself on a reload).
    for srv in (sc.sshd, sc.bare):
        deadline = time.monotonic() + 10
        while True:
            p = run(sc.ssh(srv, probe_user), check=False)
            if p.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"login of {probe_user} on port {srv.port} failed: "
                                   f"{p.stderr.strip()}; see {srv.logfile}")
            time.sleep(0.05)
    log(f"  sshd -T and login, {rounds} interleaved rounds…")
    t = interleaved([("T jailed", sc.sshd_t(sc.sshd, probe_user)),
                     ("T bare", sc.sshd_t(sc.bare, probe_user))], rounds)
    lg = interleaved([("login jailed", sc.ssh(sc.sshd, probe_user)),
                      ("login bare", sc.ssh(sc.bare, probe_user))], rounds)
    return t, lg


def bench_users(sc, targets, sizes, samples, rounds):
    rows = []
    jails = {}
    spec_users = {}
    big = max(sizes)
    # Largest first: the targets "at 1000 users" are measured while that jail is the only
    # one (one `Match Group` block); the smaller jails' applies then run at that scale.
    for n in sorted(sizes, reverse=True):
        jails[n] = sc.build_jail(f"users-{n}")
        spec_users[jails[n]] = [sc.name() for _ in range(n)]
        log(f"  apply creating {n} accounts…")
        spec = sc.spec(spec_users)
        t_create = sc.apply(spec)
        t_noop = statistics.median(sc.apply(spec) for _ in range(samples))
        rows.append((n, t_create, t_noop))
        if n == big:
            probe_user = spec_users[jails[big]][-1]
            t, lg = sshd_and_login(sc, probe_user, rounds)
    rows.sort()
    log("  user NAME --create on each jail…")
    per_user = {}
    for n in sizes:
        nr = statistics.median(sc.add_user(jails[n], reload=False) for _ in range(samples))
        wr = statistics.median(sc.add_user(jails[n], reload=True) for _ in range(samples))
        lj = statistics.median(timed([sc.js, "users", "--jail", jails[n], "--state-dir",
                                      sc.state, "--sshd-config-dir", sc.sshd.dropin,
                                      "--authorized-keys-dir", sc.keys])
                               for _ in range(samples))
        per_user[n] = (nr, wr, lj)

    # every users' jail now, and the accounts `user` added to them
    t_all, lg_all = sshd_and_login(sc, probe_user, rounds)
    dropins = sorted(os.listdir(sc.sshd.dropin))
    dropin_bytes = sum(os.path.getsize(os.path.join(sc.sshd.dropin, f)) for f in dropins)

    # The first user of a jail writes its block, runs sshd -t/-T and reloads: the one
    # add that still changes sshd's configuration (a fresh jail per sample). Measured after
    # the figures above, which are those of the users' jails alone; every fresh jail adds
    # one `Match Group` block, which sshd evaluates (one group lookup) on every connection.
    log("  user NAME --create as the first user of fresh jails (block, sshd -t/-T, reload)…")
    first = statistics.median(sc.add_user(sc.build_jail(f"first-{i}"), reload=True)
                              for i in range(samples))
    more = interleaved([("T jailed", sc.sshd_t(sc.sshd, probe_user)),
                        ("T bare", sc.sshd_t(sc.bare, probe_user))], rounds)
    blocks_more = len(os.listdir(sc.sshd.dropin))

    print(f"\n(g) users in one jail ({samples} samples per median; private sshd)")
    hdr = (f"{'users':>6}{'apply create':>14}{'apply no-op':>13}{'user --no-reload':>18}"
           f"{'user + reload':>15}{'users --jail':>14}")
    print(hdr)
    print("-" * len(hdr))
    for n, tc, tn in rows:
        nr, wr, lj = per_user[n]
        print(f"{n:>6}{tc:>13.2f}s{tn:>12.2f}s{ms(nr):>18}{ms(wr):>15}{ms(lj):>14}")
    print(f"\nfirst user of a fresh jail (writes the block, sshd -t/-T, reload): {ms(first)}")
    print(f"sshd drop-ins at {sum(len(v) for v in spec_users.values())} users: "
          f"{len(dropins)} files, {dropin_bytes} bytes")
    print(f"one jail of {big} users (its one block):")
    print(f"  sshd -T -C user=…: {ms(t['T jailed'])} (drop-ins) vs {ms(t['T bare'])} "
          f"(no drop-ins) = {t['T jailed'] / t['T bare']:.2f} x")
    print(f"  ssh login:         {ms(lg['login jailed'])} (drop-ins) vs "
          f"{ms(lg['login bare'])} (no drop-ins) = {lg['login jailed'] / lg['login bare']:.2f} x")
    print(f"all {len(sizes)} users' jails ({len(dropins)} blocks):")
    print(f"  sshd -T -C user=…: {ms(t_all['T jailed'])} vs {ms(t_all['T bare'])} = "
          f"{t_all['T jailed'] / t_all['T bare']:.2f} x")
    print(f"  ssh login:         {ms(lg_all['login jailed'])} vs {ms(lg_all['login bare'])} = "
          f"{lg_all['login jailed'] / lg_all['login bare']:.2f} x")
    print(f"sshd -T with {blocks_more} blocks ({blocks_more - len(dropins)} more jails): "
          f"{ms(more['T jailed'])} vs {ms(more['T bare'])} = "
          f"{more['T jailed'] / more['T bare']:.2f} x (each jail's block is one group lookup "
          "per connection)")

    nr, wr, _ = per_user[big]
    targets.add(f"(g) user #{big + 1} --no-reload", ms(nr), "<= 60 ms", nr <= 0.060)
    targets.add(f"(g) user #{big + 1} with reload", ms(wr), "<= 120 ms", wr <= 0.120)
    r = lg["login jailed"] / lg["login bare"]
    targets.add(f"(g) login at {big} users vs no drop-ins", f"{r:.2f} x", "<= 1.10 x", r <= 1.10)
    r = t["T jailed"] / t["T bare"]
    targets.add(f"(g) sshd -T at {big} users vs no drop-ins", f"{r:.2f} x", "<= 1.20 x",
                r <= 1.20)
    tc = next(tc for n, tc, _ in rows if n == big)
    tn = next(tn for n, _, tn in rows if n == min(sizes))
    targets.add(f"(g) apply creating {big} accounts", f"{tc:.2f} s", "<= 10 s", tc <= 10)
    targets.add(f"(g) apply no-op at {sum(sizes)} users", f"{tn:.2f} s", "<= 1 s", tn <= 1)


def bench_jails(sc, targets, counts):
    has_store = "--store" in run([sc.js, "build", "--help"]).stdout
    top = max(counts)
    modes = [("copies", [])] + ([("store", ["--store"])] if has_store else [])
    figures = {}
    for mode, extra in modes:
        state = os.path.join(sc.base, f"state-{mode}")
        root = os.path.join(sc.base, f"jails-{mode}")
        os.mkdir(root, 0o755)
        paths, times, disk = [], [], {}
        log(f"  building {top} bash-only jails ({mode})…")
        for i in range(1, top + 1):
            p = os.path.join(root, f"j{i:03d}")
            os.mkdir(p, 0o755)
            times.append(timed([sc.js, "build", p, "--bin", "bash", "--state-dir", state,
                                *extra]))
            paths.append(p)
            if i in counts:
                disk[i] = du_bytes(paths + [os.path.join(state, "store")])
        t0 = time.perf_counter()
        bad = 0
        for p in paths:
            if run([sc.js, "check", p, "--state-dir", state], check=False).returncode != 0:
                bad += 1
        t_check = time.perf_counter() - t0
        figures[mode] = (statistics.median(times), disk, t_check, bad)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)

    print("\n(g) bash-only jails: median build, disk use (du, hard links once, store "
          "included), check of every jail")
    hdr = f"{'mode':<8}{'build':>10}" + "".join(f"{f'disk @{c}':>14}" for c in counts) + \
        f"{f'check x{top}':>14}{'failed':>8}"
    print(hdr)
    print("-" * len(hdr))
    for mode, (tb, disk, tc, bad) in figures.items():
        print(f"{mode:<8}{ms(tb):>10}" + "".join(f"{mib(disk[c]):>14}" for c in counts)
              + f"{tc:>13.2f}s{bad:>8}")
    if not has_store:
        print("(build has no --store: the store figures are not measured)")
        targets.add(f"(g) disk of {top} jails, store vs copies", "not measured", "<= 10 %", None)
    else:
        r = figures["store"][1][top] / figures["copies"][1][top]
        targets.add(f"(g) disk of {top} jails, store vs copies", f"{r * 100:.1f} %", "<= 10 %",
                    r <= 0.10)
    mode = "store" if has_store else "copies"
    tc, bad = figures[mode][2], figures[mode][3]
    targets.add(f"(g) check of {top} jails ({mode})", f"{tc:.2f} s ({bad} failed)", "<= 2 s",
                tc <= 2 and bad == 0)


def bench_scale(js, args, targets):
    if os.geteuid() != 0:
        print("\n(g) scale: skipped (needs root: accounts, jails and a private sshd)")
        return
    sizes = sorted({1, min(100, args.users), args.users})
    counts = sorted({1, min(50, args.jails), args.jails})
    sc = Scale(js, args.workdir)
    created = False
    try:
        sc.sshd.start()
        sc.bare.start()
        created = True
        bench_users(sc, targets, sizes, args.samples, args.rounds * 3)
        bench_jails(sc, targets, counts)
    finally:
        sc.cleanup(created)
