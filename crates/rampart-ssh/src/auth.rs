//! Public-key authentication: ssh-agent identities first, then identity files, with RSA
//! signature hashes negotiated per server, and passphrase-protected keys unlocked once per run.
//!
//! **Invariant:** a passphrase lives only in a zeroed-on-drop buffer for as long as one decrypt
//! takes; it never reaches a log line or an error. Decrypted keys are cached per
//! [`crate::Connector`], so a fleet of 1,000 hosts costs one bcrypt KDF run and at most one TTY
//! prompt per key file, not one per host.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::{AuthResult, Handle};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use russh::{MethodKind, MethodSet};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::client::ClientHandler;
use crate::error::SshError;
use crate::known_hosts::fingerprint;

/// How a key file was loaded; cached per path for the life of the connector.
#[derive(Clone, Debug)]
enum Loaded {
    Key(Arc<PrivateKey>),
    /// The file exists but cannot be used; the text goes into AuthFailed's `tried` list.
    Unusable(String),
    /// The key is encrypted and no passphrase source was available; the hint names the env var.
    NeedsPassphrase,
}

/// Loads and caches private keys. One lock around the cache also serialises TTY prompts, so
/// parallel connections never prompt over each other.
#[derive(Debug)]
pub(crate) struct KeyStore {
    cache: Mutex<HashMap<PathBuf, Loaded>>,
    passphrase_env: Option<String>,
    allow_tty_prompt: bool,
}

impl KeyStore {
    pub(crate) fn new(passphrase_env: Option<String>, allow_tty_prompt: bool) -> Self {
        KeyStore {
            cache: Mutex::new(HashMap::new()),
            passphrase_env,
            allow_tty_prompt,
        }
    }

    async fn load(&self, path: &Path) -> Loaded {
        let mut cache = self.cache.lock().await;
        if let Some(l) = cache.get(path) {
            return l.clone();
        }
        let loaded = self.load_uncached(path).await;
        // A missing file is not cached: the operator may create it while a long run goes on.
        if !matches!(&loaded, Loaded::Unusable(s) if s == "not found") {
            cache.insert(path.to_owned(), loaded.clone());
        }
        loaded
    }

    async fn load_uncached(&self, path: &Path) -> Loaded {
        // Like ssh(1): a private key that others can read is not used ("UNPROTECTED PRIVATE
        // KEY FILE").
        #[cfg(unix)]
        if let Ok(meta) = tokio::fs::metadata(path).await {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Loaded::Unusable(format!(
                    "permissions {mode:04o} are too open: others may read this private key \
                     (chmod 600 {})",
                    path.display()
                ));
            }
        }
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Loaded::Unusable("not found".into());
            }
            Err(e) => return Loaded::Unusable(format!("cannot read: {e}")),
        };
        match russh::keys::decode_secret_key(&text, None) {
            Ok(k) => return Loaded::Key(Arc::new(k)),
            Err(e) if !is_encrypted(&e, &text) => {
                return Loaded::Unusable(format!("cannot parse key: {e}"));
            }
            Err(_) => {}
        }
        let (passphrase, source) = match self
            .passphrase_env
            .as_deref()
            .and_then(|v| Some((v, std::env::var(v).ok()?)))
        {
            Some((var, value)) => (Zeroizing::new(value), format!("${var}")),
            None if self.allow_tty_prompt => {
                let prompt = format!("Passphrase for {}: ", path.display());
                match tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt)).await
                {
                    Ok(Ok(p)) => (Zeroizing::new(p), "the TTY prompt".to_owned()),
                    Ok(Err(e)) => {
                        return Loaded::Unusable(format!(
                            "encrypted, and the TTY prompt failed: {e}"
                        ));
                    }
                    Err(e) => {
                        return Loaded::Unusable(format!(
                            "encrypted, and the TTY prompt failed: {e}"
                        ));
                    }
                }
            }
            None => return Loaded::NeedsPassphrase,
        };
        // bcrypt-pbkdf is deliberately slow: keep it off the async worker threads.
        let decoded = tokio::task::spawn_blocking(move || {
            russh::keys::decode_secret_key(&text, Some(passphrase.as_str()))
        })
        .await;
        match decoded {
            Ok(Ok(k)) => Loaded::Key(Arc::new(k)),
            Ok(Err(_)) => {
                Loaded::Unusable(format!("the passphrase from {source} does not decrypt it"))
            }
            Err(e) => Loaded::Unusable(format!("decrypting failed: {e}")),
        }
    }
}

fn is_encrypted(e: &russh::keys::Error, text: &str) -> bool {
    matches!(e, russh::keys::Error::KeyIsEncrypted)
        || text.contains("BEGIN ENCRYPTED PRIVATE KEY")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

/// Everything authentication needs besides the connection.
#[derive(Debug)]
pub(crate) struct AuthContext<'a> {
    pub(crate) target: &'a str,
    pub(crate) user: &'a str,
    pub(crate) agent_socket: Option<&'a Path>,
    pub(crate) identity_files: &'a [PathBuf],
    pub(crate) keys: &'a KeyStore,
    pub(crate) passphrase_env: Option<&'a str>,
}

/// Why authentication stopped early.
enum Stop {
    /// The server no longer offers publickey, or closed the connection.
    Closed(String),
}

/// Runs the auth order (agent, then identity files). Ok when the server accepted a key.
pub(crate) async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    cx: &AuthContext<'_>,
) -> Result<(), SshError> {
    let mut tried: Vec<String> = Vec::new();
    let mut offered: Vec<PublicKey> = Vec::new();
    let mut rsa_hashes: Option<Vec<Option<HashAlg>>> = None;
    let mut needs_passphrase = false;

    let outcome = async {
        if let Some(sock) = cx.agent_socket
            && agent_auth(handle, cx, sock, &mut tried, &mut offered, &mut rsa_hashes).await?
        {
            return Ok(true);
        }
        for path in cx.identity_files {
            match cx.keys.load(path).await {
                Loaded::Key(key) => {
                    if offered
                        .iter()
                        .any(|k| k.key_data() == key.public_key().key_data())
                    {
                        continue;
                    }
                    offered.push(key.public_key().clone());
                    let hashes =
                        hashes_for(handle, key.algorithm().is_rsa(), &mut rsa_hashes).await;
                    for hash in hashes {
                        let with = PrivateKeyWithHashAlg::new(key.clone(), hash);
                        let label = format!("{} ({})", path.display(), with.algorithm().as_str());
                        let res = handle.authenticate_publickey(cx.user, with).await;
                        if accepted(res.map_err(|e| e.to_string()), label, &mut tried)? {
                            return Ok(true);
                        }
                    }
                }
                Loaded::Unusable(why) if why == "not found" => {}
                Loaded::Unusable(why) => tried.push(format!("{}: {why}", path.display())),
                Loaded::NeedsPassphrase => {
                    needs_passphrase = true;
                    tried.push(format!(
                        "{}: encrypted, and no passphrase was given",
                        path.display()
                    ));
                }
            }
        }
        Ok::<bool, Stop>(false)
    }
    .await;

    let closed = match outcome {
        Ok(true) => return Ok(()),
        Ok(false) => None,
        Err(Stop::Closed(why)) => Some(why),
    };
    let hint = if let Some(why) = closed {
        Some(format!(
            "{why}; if you have many keys, name the right one with identity_file so it is offered \
             before sshd's MaxAuthTries runs out"
        ))
    } else if needs_passphrase {
        let var = cx.passphrase_env.unwrap_or("RAMPART_KEY_PASSPHRASE");
        Some(format!(
            "export the key's passphrase in ${var}, load the key into ssh-agent (ssh-add), or run \
             interactively so rampart can prompt for it"
        ))
    } else {
        None
    };
    Err(SshError::AuthFailed {
        target: cx.target.to_owned(),
        user: cx.user.to_owned(),
        tried,
        hint,
    })
}

#[cfg(unix)]
async fn agent_auth(
    handle: &mut Handle<ClientHandler>,
    cx: &AuthContext<'_>,
    sock: &Path,
    tried: &mut Vec<String>,
    offered: &mut Vec<PublicKey>,
    rsa_hashes: &mut Option<Vec<Option<HashAlg>>>,
) -> Result<bool, Stop> {
    use russh::keys::agent::AgentIdentity;
    use russh::keys::agent::client::AgentClient;

    let mut agent = match AgentClient::connect_uds(sock).await {
        Ok(a) => a,
        Err(e) => {
            tried.push(format!(
                "ssh-agent at {}: cannot connect ({e})",
                sock.display()
            ));
            return Ok(false);
        }
    };
    // OpenSSH agents hide destination-constrained keys until the session is bound; older agents
    // reject the extension, which is harmless.
    if let Some(binding) = handle.agent_session_binding() {
        let binding = binding.clone();
        if let Err(e) = agent.bind_session(&binding, false).await {
            tracing::debug!(error = %e, "ssh-agent does not support session-bind");
        }
    }
    let identities = match agent.request_identities().await {
        Ok(ids) => ids,
        Err(e) => {
            tried.push(format!(
                "ssh-agent at {}: listing keys failed ({e})",
                sock.display()
            ));
            return Ok(false);
        }
    };
    if identities.is_empty() {
        tried.push(format!("ssh-agent at {}: holds no keys", sock.display()));
    }
    for id in identities {
        let AgentIdentity::PublicKey { key, .. } = id else {
            // Host-user certificates are not supported yet; their plain key may follow.
            continue;
        };
        if offered.iter().any(|k| k.key_data() == key.key_data()) {
            continue;
        }
        offered.push(key.clone());
        let hashes = hashes_for(handle, key.algorithm().is_rsa(), rsa_hashes).await;
        for hash in hashes {
            let label = format!(
                "ssh-agent key {}{}",
                fingerprint(&key),
                hash_label(hash, &key)
            );
            let res = handle
                .authenticate_publickey_with(cx.user, key.clone(), hash, &mut agent)
                .await;
            if accepted(
                res.map_err(|e| format!("the agent did not sign: {e}")),
                label,
                tried,
            )? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(not(unix))]
async fn agent_auth(
    _handle: &mut Handle<ClientHandler>,
    _cx: &AuthContext<'_>,
    sock: &Path,
    tried: &mut Vec<String>,
    _offered: &mut Vec<PublicKey>,
    _rsa_hashes: &mut Option<Vec<Option<HashAlg>>>,
) -> Result<bool, Stop> {
    tried.push(format!(
        "ssh-agent at {}: not supported on this platform",
        sock.display()
    ));
    Ok(false)
}

fn hash_label(hash: Option<HashAlg>, key: &PublicKey) -> &'static str {
    if !key.algorithm().is_rsa() {
        return "";
    }
    match hash {
        Some(HashAlg::Sha512) => " (rsa-sha2-512)",
        Some(HashAlg::Sha256) => " (rsa-sha2-256)",
        _ => " (ssh-rsa)",
    }
}

/// Records one attempt. Ok(true) on success, Ok(false) to try the next key, Err when the
/// server closed or stopped offering publickey (more attempts are pointless).
fn accepted(
    res: Result<AuthResult, String>,
    label: String,
    tried: &mut Vec<String>,
) -> Result<bool, Stop> {
    match res {
        Ok(AuthResult::Success) => {
            tracing::debug!(key = %label, "authenticated");
            Ok(true)
        }
        Ok(AuthResult::Failure {
            remaining_methods,
            partial_success,
        }) => {
            if partial_success {
                tried.push(format!(
                    "{label}: accepted, but the server wants a second factor"
                ));
                return Err(Stop::Closed(
                    "the server requires more than one authentication method".into(),
                ));
            }
            tried.push(format!("{label}: rejected"));
            if !offers_publickey(&remaining_methods) {
                return Err(Stop::Closed(
                    "the server stopped offering publickey authentication".into(),
                ));
            }
            Ok(false)
        }
        Err(e) => {
            tried.push(format!("{label}: {e}"));
            Err(Stop::Closed(
                "the server closed the connection during authentication".into(),
            ))
        }
    }
}

fn offers_publickey(methods: &MethodSet) -> bool {
    // An empty set comes from a closed connection too; treat "unknown" as "still offered" and
    // let the next attempt report the close.
    methods.is_empty() || methods.contains(&MethodKind::PublicKey)
}

/// RSA signature hashes to try, best first: what the server's `server-sig-algs` says, then the
/// other SHA-2 in case the server advertises more than its PubkeyAcceptedAlgorithms allows.
async fn hashes_for(
    handle: &Handle<ClientHandler>,
    is_rsa: bool,
    cache: &mut Option<Vec<Option<HashAlg>>>,
) -> Vec<Option<HashAlg>> {
    if !is_rsa {
        return vec![None];
    }
    if let Some(c) = cache {
        return c.clone();
    }
    let list = match handle.best_supported_rsa_hash().await {
        Ok(Some(Some(HashAlg::Sha512))) => vec![Some(HashAlg::Sha512), Some(HashAlg::Sha256)],
        Ok(Some(Some(h))) => vec![Some(h), Some(HashAlg::Sha512)],
        // The server lists only ssh-rsa (SHA-1).
        Ok(Some(None)) => vec![None],
        // No server-sig-algs (no EXT_INFO): modern first.
        Ok(None) | Err(_) => vec![Some(HashAlg::Sha512), Some(HashAlg::Sha256)],
    };
    *cache = Some(list.clone());
    list
}
