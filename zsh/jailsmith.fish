# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_jailsmith_global_optspecs
    string join \n h/help V/version
end

function __fish_jailsmith_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_jailsmith_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_jailsmith_using_subcommand
    set -l cmd (__fish_jailsmith_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c jailsmith -n "__fish_jailsmith_needs_command" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -s V -l version -d 'Print version'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "deps" -d 'Resolve the shared libraries of ELF files like ldd, without running them'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "build" -d 'Build or refresh a jail: programs, their libraries, devices and base /etc files'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "profiles" -d 'Inspect jail profiles: list them, or show one resolved on this host'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "user" -d 'Jail an account in sshd: key-only login that lands inside a jail (or --remove it)'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "users" -d 'List the users jailed in a jail'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "check" -d 'Audit a jail: security invariants, integrity against the manifest, staleness'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "update" -d 'Bring a jail up to date with the host: re-copy, add, and remove what is no longer needed'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "mount" -d 'Mount a jail\'s declared bind mounts (idempotent); optionally write systemd units'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "umount" -d 'Unmount a jail\'s declared bind mounts'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "destroy" -d 'Take a jail down: users\' sshd blocks and keys, mounts, files (homes with --purge), state'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "service" -d 'Run a program as a hardened systemd service inside a jail, with resource limits'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "apply" -d 'Converge this host to a declarative SPEC.toml: jails, jailed users, services'
complete -c jailsmith -n "__fish_jailsmith_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand deps" -l ld-library-path -d 'Search these directories as LD_LIBRARY_PATH would (colon-separated). The tool\'s own environment is never used' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand deps" -l jobs -d 'Resolve on this many threads (default: the number of CPUs)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand deps" -l json -d 'Print a JSON array, one object per FILE'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand deps" -l explain -d 'Show the dependency tree: who needed each library and how it was found'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand deps" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l bin -d 'A program to copy: a name looked up in the fixed PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, or a path. A script brings its #! interpreter' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l file -d 'A data file or directory copied as it is (directories recursively)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l bind -d 'A host directory to bind-mount into the jail: SRC:DST[:ro|rw], non-recursive, always nosuid,nodev, read-only unless rw. Recorded in the state; `jailsmith mount` mounts it. A source a non-root user can write is refused unless rw is given' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l state-dir -d 'Where jailsmith keeps what built each jail and the manifest of its files' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l profile -d 'Add what profile NAME describes (repeatable; see \'jailsmith profiles list\')' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l dry-run -d 'Print the plan, one operation per line with its reason, and change nothing'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l json -d 'Print the plan (with --dry-run) or the result as JSON on stdout'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -l verify-content -d 'Compare file contents (sha256), not just size and mtime, to decide what is current'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand build" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List every profile in the search path: name and one-line description'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Show profiles with includes expanded and every entry resolved on this host'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from list" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from list" -l json -d 'Print a JSON array, one object per profile file (shadowed ones included)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from show" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from show" -l files -d 'List every file a directory or glob expands to, not only the count'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from show" -l json -d 'Print the expansion as JSON'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every profile in the search path: name and one-line description'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show profiles with includes expanded and every entry resolved on this host'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand profiles; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l jail -d 'The jail the account lands in (sshd\'s ChrootDirectory)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l shell -d 'Login shell, as a path inside the jail; it must exist there (and on the host, where sshd checks it) unless --sftp-only' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l uid -d 'uid of a created account (at least UID_MIN of /etc/login.defs)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l key -d 'A public key file (repeatable); every line must be a valid OpenSSH public key' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l key-text -d 'A public key given inline (\'ssh-ed25519 AAAA… comment\'); repeatable' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l authorized-keys-dir -d 'Root-owned directory of the authorized_keys files (one per user)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l sshd-config-dir -d 'sshd\'s drop-in directory (the main config must Include it)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l sshd-config -d 'sshd\'s main config, for `sshd -t` / `sshd -T` and the Include check' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l sshd -d 'The sshd binary used for validation' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l state-dir -d 'Where jailsmith keeps its state about jails' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l systemd-dir -d 'Where the user\'s slice drop-in with the limits goes (user-UID.slice.d/50-jailsmith.conf)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l memory-max -d 'Hard memory limit: bytes with K, M, G or T (1024-based), a percentage, or \'infinity\'' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l memory-high -d 'Memory above which the processes are throttled (same forms as --memory-max)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l cpu-quota -d 'CPU time cap in percent of one CPU: 50% or 150%' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l cpu-weight -d 'Relative CPU share under contention, 1–10000 (default 100)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l tasks-max -d 'Most tasks (processes and threads): a number, a percentage, or \'infinity\'' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l io-read-max -d 'Read bandwidth cap: \'RATE\' (bytes/s on the device holding the jail, e.g. 1M) or \'DEV RATE\' (/dev/sda 10M)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l io-write-max -d 'Write bandwidth cap, as --io-read-max' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l create -d 'Create the account when it does not exist (useradd; no home on the host)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l sftp-only -d 'sftp only: ForceCommand internal-sftp, no TTY'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l remove -d 'Take the user out of the jail: keys, drop-in, the jail\'s passwd/group lines'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l delete-home -d 'With --remove: delete JAIL/home/NAME too'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l delete-account -d 'With --remove: delete the host account too (userdel, never its host home)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l no-reload -d 'Do not reload sshd after changing its drop-ins'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l dry-run -d 'Print what would change; change nothing'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -l json -d 'Print what changed as JSON on stdout'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand user" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand users" -l jail -d 'The jail' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand users" -l sshd-config-dir -d 'sshd\'s drop-in directory (to report each user\'s drop-in)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand users" -l authorized-keys-dir -d 'Directory of the authorized_keys files' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand users" -l state-dir -d 'Where jailsmith keeps its state about jails' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand users" -l json -d 'Print JSON on stdout'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand users" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand check" -l state-dir -d 'Where jailsmith keeps the state of each jail' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand check" -l jobs -d 'Threads hashing files (default: one per CPU)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand check" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand check" -l json -d 'Print the report as JSON on stdout (for monitoring)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand check" -l no-replan -d 'Do not re-run the planner (skips "needed now" findings; faster)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand check" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand update" -l state-dir -d 'Where jailsmith keeps the state of each jail' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand update" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand update" -l dry-run -d 'Print what would change and change nothing'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand update" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand mount" -l systemd-unit-dir -d 'Also write one systemd .mount unit per bind into DIR (named like systemd-escape --path: /srv/jail/data → srv-jail-data.mount), so the binds come back at boot' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand mount" -l state-dir -d 'Where jailsmith keeps the state of each jail' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand mount" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand umount" -l state-dir -d 'Where jailsmith keeps the state of each jail' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand umount" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l authorized-keys-dir -d 'Root-owned directory of the authorized_keys files (one per user)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l sshd-config-dir -d 'sshd\'s drop-in directory' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l sshd-config -d 'sshd\'s main config, for `sshd -t`' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l sshd -d 'The sshd binary used for validation' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l state-dir -d 'Where jailsmith keeps the state of each jail' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l purge -d 'Remove the users\' homes and the jail root too'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l kill-sessions -d 'End the jailed users\' running processes (SIGKILL by PID) instead of refusing'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l dry-run -d 'Print what would be removed; change nothing'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -l no-reload -d 'Do not reload sshd after removing drop-ins'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand destroy" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l jail -d 'The jail (RootDirectory=), built or updated with what the command needs' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l exec -d 'The command line, split with shell word rules (no shell runs it)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l user -d 'The account the service runs as (default: NAME). Never root' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l bin -d 'Another program to copy into the jail (repeatable), as \'build --bin\'' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l file -d 'A data file or directory copied into the jail at the same path (repeatable)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l profile -d 'Add what profile NAME describes (repeatable; see \'jailsmith profiles list\')' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l read-write -d 'A path inside the jail the service may write (ReadWritePaths=); repeatable' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l port -d 'A port the program listens on (repeatable): allows AF_INET/AF_INET6; below 1024 also CAP_NET_BIND_SERVICE. Without --port and --allow-ip the service has no network' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l allow-ip -d 'A peer address or prefix the service may talk to (IPAddressAllow=, with IPAddressDeny=any); repeatable. \'localhost\' allows the loopback addresses' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l memory-max -d 'Hard memory limit: bytes with K, M, G or T (1024-based), a percentage, or \'infinity\'' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l memory-high -d 'Memory above which the processes are throttled (same forms as --memory-max)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l cpu-quota -d 'CPU time cap in percent of one CPU: 50% or 150%' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l cpu-weight -d 'Relative CPU share under contention, 1–10000 (default 100)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l tasks-max -d 'Most tasks (processes and threads): a number, a percentage, or \'infinity\'' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l io-read-max -d 'Read bandwidth cap: \'RATE\' (bytes/s on the device holding the jail, e.g. 1M) or \'DEV RATE\' (/dev/sda 10M)' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l io-write-max -d 'Write bandwidth cap, as --io-read-max' -r
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l unit-dir -d 'Where the unit file goes' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l state-dir -d 'Where jailsmith keeps its state about jails' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l create-user -d 'Create the account when missing: a system account with no home and no login shell'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l allow-unix -d 'The program needs AF_UNIX sockets'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l allow-jit -d 'The program generates code at run time (a JIT): no MemoryDenyWriteExecute='
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l no-reload -d 'Do not run \'systemctl daemon-reload\' after writing the unit'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l start -d 'Start (or restart, when the unit changed) the service after writing it'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -l dry-run -d 'Print the unit and the jail plan; write nothing, create no account'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand service" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l authorized-keys-dir -d 'Root-owned directory of the authorized_keys files (one per user)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l sshd-config-dir -d 'sshd\'s drop-in directory (the main config must Include it)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l sshd-config -d 'sshd\'s main config, for `sshd -t` / `sshd -T` and the Include check' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l sshd -d 'The sshd binary used for validation' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l state-dir -d 'Where jailsmith keeps its state (jails, and what apply manages)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l systemd-dir -d 'Where users\' slice drop-ins with limits go' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l unit-dir -d 'Where service units go' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l profile-dir -d 'Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles and the source tree\'s jail-profiles/ (repeatable; first match wins)' -r -F
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l prune -d 'Remove jails, users and services apply created that the spec no longer names'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l dry-run -d 'Print the actions; change nothing'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l json -d 'Print {"changed", "actions"} as JSON on stdout'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -l no-reload -d 'Do not reload sshd (or systemd) after a change'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand apply" -s h -l help -d 'Print help'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "deps" -d 'Resolve the shared libraries of ELF files like ldd, without running them'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "build" -d 'Build or refresh a jail: programs, their libraries, devices and base /etc files'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "profiles" -d 'Inspect jail profiles: list them, or show one resolved on this host'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "user" -d 'Jail an account in sshd: key-only login that lands inside a jail (or --remove it)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "users" -d 'List the users jailed in a jail'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "check" -d 'Audit a jail: security invariants, integrity against the manifest, staleness'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "update" -d 'Bring a jail up to date with the host: re-copy, add, and remove what is no longer needed'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "mount" -d 'Mount a jail\'s declared bind mounts (idempotent); optionally write systemd units'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "umount" -d 'Unmount a jail\'s declared bind mounts'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "destroy" -d 'Take a jail down: users\' sshd blocks and keys, mounts, files (homes with --purge), state'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "service" -d 'Run a program as a hardened systemd service inside a jail, with resource limits'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "apply" -d 'Converge this host to a declarative SPEC.toml: jails, jailed users, services'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and not __fish_seen_subcommand_from deps build profiles user users check update mount umount destroy service apply help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and __fish_seen_subcommand_from profiles" -f -a "list" -d 'List every profile in the search path: name and one-line description'
complete -c jailsmith -n "__fish_jailsmith_using_subcommand help; and __fish_seen_subcommand_from profiles" -f -a "show" -d 'Show profiles with includes expanded and every entry resolved on this host'
