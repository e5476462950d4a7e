//! The SSH side of verify, on russh (ring backend): connect with the host-key policy decided
//! before authentication, public-key login, and one helper per thing verify asks the server
//! (a command, a PTY shell, forwarding requests, the sftp subsystem). The only async code in
//! the project; every wait is bounded by the caller's timeout. Changes nothing on the host.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::ssh_key::{HashAlg, PublicKey};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Error as SshError};
use russh_sftp::client::SftpSession;
use tokio::time::timeout;

use super::hostkey::{self, Trusted, Verdict};

/// What the host-key callback decided; read after `connect` returns.
#[derive(Clone, Debug, Default)]
pub struct KeySeen {
    pub verdict: Option<Verdict>,
    pub key: Option<PublicKey>,
}

/// The russh handler: judges the server key and remembers the verdict.
pub struct Client {
    trusted: Vec<Trusted>,
    revoked: Vec<(usize, PublicKey)>,
    accept_new: bool,
    seen: Arc<Mutex<KeySeen>>,
}

impl client::Handler for Client {
    type Error = SshError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let (verdict, key) = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => (
                hostkey::judge(key, &self.trusted, &self.revoked),
                Some(key.clone()),
            ),
            PublicKeyOrCertificate::Certificate(_) => (
                Verdict::Mismatch {
                    presented: "a host certificate".into(),
                    why: "verify trusts plain host keys only".into(),
                },
                None,
            ),
        };
        let ok = match &verdict {
            Verdict::Match(_) => true,
            Verdict::Unknown { .. } => self.accept_new,
            Verdict::Mismatch { .. } => false,
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.verdict = Some(verdict);
        seen.key = key;
        Ok(ok)
    }
}

/// An authenticated (or about to be) connection.
pub struct Conn {
    handle: Handle<Client>,
    limit: Duration,
}

/// Why `connect` returned no connection.
#[derive(Debug)]
pub enum ConnectError {
    /// The host-key callback rejected the key (see `KeySeen`).
    HostKey,
    /// TCP, handshake or timeout.
    Other(String),
}

/// Output of one command.
#[derive(Debug, Default)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit: Option<u32>,
}

/// Connects and runs the key exchange; the host key is judged before anything else is sent.
pub async fn connect(
    host: &str,
    port: u16,
    trusted: Vec<Trusted>,
    revoked: Vec<(usize, PublicKey)>,
    accept_new: bool,
    limit: Duration,
) -> (Result<Conn, ConnectError>, KeySeen) {
    let seen = Arc::new(Mutex::new(KeySeen::default()));
    // Keepalives rather than an inactivity timeout: a long, quiet probe (the setuid walk of a
    // big jail) must not cut the connection, a dead server still ends it after 3 misses.
    let mut config = client::Config {
        keepalive_interval: Some(Duration::from_secs(10)),
        keepalive_max: 3,
        ..Default::default()
    };
    config.preferred.key = hostkey::preferred_algorithms(&config.preferred.key, &trusted).into();
    let handler = Client {
        trusted,
        revoked,
        accept_new,
        seen: seen.clone(),
    };
    let res = timeout(
        limit,
        client::connect(Arc::new(config), (host, port), handler),
    )
    .await;
    let seen_now = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let rejected = matches!(
        (&seen_now.verdict, accept_new),
        (Some(Verdict::Mismatch { .. }), _) | (Some(Verdict::Unknown { .. }), false)
    );
    let out = match res {
        Ok(Ok(handle)) => Ok(Conn { handle, limit }),
        Ok(Err(_)) if rejected => Err(ConnectError::HostKey),
        Ok(Err(e)) => Err(ConnectError::Other(format!("{host} port {port}: {e}"))),
        Err(_) => Err(ConnectError::Other(format!(
            "{host} port {port}: no SSH handshake within {limit:?}"
        ))),
    };
    (out, seen_now)
}

/// A failure talking to the server, naming the request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{what}: {source}")]
    Ssh {
        what: &'static str,
        #[source]
        source: SshError,
    },
    #[error("{what}: {source}")]
    Sftp {
        what: &'static str,
        #[source]
        source: russh_sftp::client::error::Error,
    },
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("{0}")]
    Failed(String),
}

fn err(what: &'static str, source: SshError) -> ClientError {
    ClientError::Ssh { what, source }
}

fn sftp_err(what: &'static str, source: russh_sftp::client::error::Error) -> ClientError {
    ClientError::Sftp { what, source }
}

impl Conn {
    /// Public-key authentication; RSA keys sign with SHA-2 (never ssh-rsa/SHA-1). Ok(false)
    /// when the server refuses the key.
    pub async fn authenticate(&mut self, user: &str, key: PrivateKey) -> Result<bool, ClientError> {
        let key = Arc::new(key);
        let hash = if key.algorithm().is_rsa() {
            match timeout(self.limit, self.handle.best_supported_rsa_hash()).await {
                Ok(Ok(Some(Some(h)))) => Some(h),
                Ok(Ok(Some(None))) => {
                    return Err(ClientError::Failed("the server accepts RSA keys only with SHA-1 (ssh-rsa) signatures; verify signs with SHA-2 only".into()));
                }
                _ => Some(HashAlg::Sha256),
            }
        } else {
            None
        };
        let fut = self
            .handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash));
        match timeout(self.limit, fut).await {
            Ok(Ok(r)) => Ok(r.success()),
            Ok(Err(e)) => Err(err("authentication", e)),
            Err(_) => Err(ClientError::Timeout("authentication")),
        }
    }

    /// Runs `command` on a new session channel and collects its output.
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, ClientError> {
        self.exec_limit(command, self.limit).await
    }

    /// `exec` with its own time limit (for long walks).
    pub async fn exec_limit(
        &self,
        command: &str,
        limit: Duration,
    ) -> Result<ExecOutput, ClientError> {
        let mut ch = timeout(self.limit, self.handle.channel_open_session())
            .await
            .map_err(|_| ClientError::Timeout("opening a session"))?
            .map_err(|e| err("opening a session", e))?;
        ch.exec(true, command)
            .await
            .map_err(|e| err("exec request", e))?;
        let mut out = ExecOutput::default();
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let collect = async {
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => o.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, .. } => e.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => out.exit = Some(exit_status),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
        };
        let done = timeout(limit, collect).await;
        out.stdout = String::from_utf8_lossy(&o).into_owned();
        out.stderr = String::from_utf8_lossy(&e).into_owned();
        match done {
            Ok(()) => Ok(out),
            Err(_) => Err(ClientError::Failed(format!(
                "the command did not finish within {limit:?} (output so far: {:?})",
                out.stdout.chars().take(200).collect::<String>()
            ))),
        }
    }

    /// Starts `command` on a new session channel and returns the channel without waiting for
    /// it (verify holds it open while the host looks at the session's processes).
    pub async fn open_exec(
        &self,
        command: &str,
    ) -> Result<russh::Channel<client::Msg>, ClientError> {
        let ch = timeout(self.limit, self.handle.channel_open_session())
            .await
            .map_err(|_| ClientError::Timeout("opening a session"))?
            .map_err(|e| err("opening a session", e))?;
        ch.exec(true, command)
            .await
            .map_err(|e| err("exec request", e))?;
        Ok(ch)
    }

    /// Ends a channel from `open_exec`: end of input, then close.
    pub async fn release(ch: russh::Channel<client::Msg>) {
        let _ = ch.eof().await;
        let _ = ch.close().await;
    }

    /// Requests a PTY and a shell, sends `input` and reads until `proof` appears or the
    /// channel closes.
    pub async fn pty_shell(&self, input: &str, proof: &str) -> Result<(), ClientError> {
        let mut ch = timeout(self.limit, self.handle.channel_open_session())
            .await
            .map_err(|_| ClientError::Timeout("opening a session"))?
            .map_err(|e| err("opening a session", e))?;
        ch.request_pty(true, "xterm", 80, 24, 0, 0, &[])
            .await
            .map_err(|e| err("pty request", e))?;
        let run = async {
            if !wait_reply(&mut ch).await {
                return Err(ClientError::Failed("the server refused the PTY".into()));
            }
            ch.request_shell(true)
                .await
                .map_err(|e| err("shell request", e))?;
            if !wait_reply(&mut ch).await {
                return Err(ClientError::Failed(
                    "the server refused a shell on the PTY".into(),
                ));
            }
            ch.data_bytes(input.as_bytes().to_vec())
                .await
                .map_err(|e| err("writing to the PTY", e))?;
            let mut seen = Vec::new();
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        seen.extend_from_slice(&data);
                        if String::from_utf8_lossy(&seen).contains(proof) {
                            return Ok(());
                        }
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            Err(ClientError::Failed(format!(
                "the shell on the PTY did not answer (it printed {:?})",
                String::from_utf8_lossy(&seen)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )))
        };
        let r = timeout(self.limit, run)
            .await
            .unwrap_or(Err(ClientError::Timeout("the PTY shell")));
        let _ = ch.close().await;
        r
    }

    /// Asks for a direct-tcpip channel to 127.0.0.1:`port` (on the server). Ok(true) when the
    /// server opened it.
    pub async fn direct_tcpip(&self, port: u16) -> Result<bool, ClientError> {
        let fut =
            self.handle
                .channel_open_direct_tcpip("127.0.0.1", port.into(), "127.0.0.1", 40000);
        match timeout(self.limit, fut).await {
            Ok(Ok(ch)) => {
                let _ = ch.close().await;
                Ok(true)
            }
            Ok(Err(SshError::ChannelOpenFailure(_))) => Ok(false),
            Ok(Err(e)) => Err(err("direct-tcpip", e)),
            Err(_) => Err(ClientError::Timeout("the direct-tcpip request")),
        }
    }

    /// Asks the server to listen on 127.0.0.1 for us (`ssh -R`). Ok(Some(port)) when it
    /// agreed (the forward is cancelled again).
    pub async fn remote_forward(&self) -> Result<Option<u32>, ClientError> {
        match timeout(self.limit, self.handle.tcpip_forward("127.0.0.1", 0)).await {
            Ok(Ok(port)) => {
                let _ = self.handle.cancel_tcpip_forward("127.0.0.1", port).await;
                Ok(Some(port))
            }
            Ok(Err(SshError::RequestDenied)) => Ok(None),
            Ok(Err(e)) => Err(err("tcpip-forward", e)),
            Err(_) => Err(ClientError::Timeout("the tcpip-forward request")),
        }
    }

    /// Requests agent forwarding on a session; when the server agrees, runs `probe` there
    /// too. Ok((accepted, probe output)).
    pub async fn agent_forward(&self, probe: &str) -> Result<(bool, Option<String>), ClientError> {
        let mut ch = timeout(self.limit, self.handle.channel_open_session())
            .await
            .map_err(|_| ClientError::Timeout("opening a session"))?
            .map_err(|e| err("opening a session", e))?;
        ch.agent_forward(true)
            .await
            .map_err(|e| err("agent request", e))?;
        let accepted = timeout(self.limit, wait_reply(&mut ch))
            .await
            .map_err(|_| ClientError::Timeout("the agent request"))?;
        if !accepted {
            let _ = ch.close().await;
            return Ok((false, None));
        }
        ch.exec(true, probe)
            .await
            .map_err(|e| err("exec request", e))?;
        let mut o = Vec::new();
        let collect = async {
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => o.extend_from_slice(&data),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
        };
        let _ = timeout(self.limit, collect).await;
        Ok((true, Some(String::from_utf8_lossy(&o).into_owned())))
    }

    /// Opens the sftp subsystem.
    pub async fn sftp(&self) -> Result<SftpSession, ClientError> {
        let ch = timeout(self.limit, self.handle.channel_open_session())
            .await
            .map_err(|_| ClientError::Timeout("opening a session"))?
            .map_err(|e| err("opening a session", e))?;
        ch.request_subsystem(false, "sftp")
            .await
            .map_err(|e| err("sftp subsystem request", e))?;
        let s = timeout(self.limit, SftpSession::new(ch.into_stream()))
            .await
            .map_err(|_| ClientError::Timeout("starting sftp"))?
            .map_err(|e| sftp_err("sftp subsystem", e))?;
        s.set_timeout(self.limit.as_secs().max(1));
        Ok(s)
    }

    pub async fn disconnect(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "verify done", "en")
            .await;
    }
}

/// Names in an sftp directory listing, without `.` and `..`.
pub async fn sftp_list(s: &SftpSession, dir: &str) -> Result<Vec<String>, ClientError> {
    let rd = s
        .read_dir(dir)
        .await
        .map_err(|e| sftp_err("sftp readdir /", e))?;
    let mut names: Vec<String> = rd
        .map(|e| e.file_name())
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    Ok(names)
}

/// Whether `path` exists for the sftp user (errors other than "no such file" count as
/// "not visible": a permission error does not reveal the file either).
pub async fn sftp_exists(s: &SftpSession, path: &str) -> bool {
    matches!(s.try_exists(path).await, Ok(true))
}

/// Whether the sftp user can create `path` (the file is closed; the caller removes it).
pub async fn sftp_can_create(s: &SftpSession, path: &str) -> bool {
    use russh_sftp::protocol::OpenFlags;
    match s
        .open_with_flags(
            path,
            OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE,
        )
        .await
    {
        Ok(f) => {
            drop(f);
            true
        }
        Err(_) => false,
    }
}

/// Waits for the server's answer to a channel request: true on success.
async fn wait_reply(ch: &mut russh::Channel<client::Msg>) -> bool {
    while let Some(msg) = ch.wait().await {
        match msg {
            ChannelMsg::Success => return true,
            ChannelMsg::Failure | ChannelMsg::Close | ChannelMsg::Eof => return false,
            _ => {}
        }
    }
    false
}
