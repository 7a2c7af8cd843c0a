//! Encrypted secrets: an age (x25519, ASCII-armored) file holding TOML, and the
//! `rampart secrets keygen|encrypt|decrypt|edit` commands.
//!
//! The decrypted TOML is flattened into names with `/` between table levels:
//! `[redis]\nex_001 = "pw"` is the secret `redis/ex_001`. Values become [`Secret`]s at once and
//! are never printed; the plaintext buffer is zeroed after parsing.
//!
//! The identity comes from `--identity FILE`, else `RAMPART_AGE_IDENTITY` (a file), else
//! `RAMPART_AGE_KEY` (the key itself, for CI), else `~/.config/rampart/age.key`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use rampart_core::InputError;
use rampart_core::secret::Secret;
use zeroize::Zeroizing;

use crate::error::CliError;

/// Refuses an identity file that others may read, as ssh refuses such a private key: the
/// identity decrypts every secret of the site.
fn refuse_open_permissions(p: &Path) -> Result<(), CliError> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(p) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(InputError::in_file(
                p,
                format!(
                    "the age identity is readable by others (mode {mode:04o}); refusing to use it"
                ),
            )
            .with_hint(format!("chmod 600 {}", p.display()))
            .into());
        }
    }
    let _ = p;
    Ok(())
}

/// Where the identity comes from, for messages.
fn identity_source(flag: Option<&Path>) -> Result<(String, Zeroizing<String>), CliError> {
    let read = |p: &Path, label: String| -> Result<(String, Zeroizing<String>), CliError> {
        refuse_open_permissions(p)?;
        let text = std::fs::read_to_string(p).map_err(|e| {
            InputError::in_file(p, format!("cannot read the age identity: {e}"))
                .with_hint("create one with `rampart secrets keygen -o FILE`, or point --identity / RAMPART_AGE_IDENTITY at it")
        })?;
        Ok((label, Zeroizing::new(text)))
    };
    if let Some(p) = flag {
        return read(p, format!("--identity {}", p.display()));
    }
    if let Some(p) = std::env::var_os("RAMPART_AGE_IDENTITY") {
        let p = PathBuf::from(p);
        return read(&p, format!("RAMPART_AGE_IDENTITY={}", p.display()));
    }
    if let Ok(k) = std::env::var("RAMPART_AGE_KEY") {
        return Ok(("RAMPART_AGE_KEY".into(), Zeroizing::new(k)));
    }
    let default = default_identity_path();
    if default.exists() {
        return read(&default, default.display().to_string());
    }
    Err(InputError::in_file(&default, "no age identity to decrypt the secrets with")
        .with_hint("pass --identity FILE, or set RAMPART_AGE_IDENTITY (a file) or RAMPART_AGE_KEY (the key)")
        .into())
}

fn default_identity_path() -> PathBuf {
    std::env::home_dir()
        .unwrap_or_default()
        .join(".config/rampart/age.key")
}

fn identities(text: &str, label: &str) -> Result<Vec<Box<dyn age::Identity>>, CliError> {
    let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| {
        CliError::Input(vec![InputError::in_file(
            Path::new(label),
            format!("not an age identity: {e}"),
        )])
    })?;
    let ids = file.into_identities().map_err(|e| {
        CliError::Input(vec![InputError::in_file(
            Path::new(label),
            format!("not an age identity: {e}"),
        )])
    })?;
    if ids.is_empty() {
        return Err(
            InputError::in_file(Path::new(label), "holds no age identity")
                .with_hint("an identity line starts with AGE-SECRET-KEY-1")
                .into(),
        );
    }
    Ok(ids)
}

/// Decrypts a secrets file to its plaintext.
fn decrypt_file(path: &Path, identity: Option<&Path>) -> Result<Zeroizing<String>, CliError> {
    let data = std::fs::read(path).map_err(|e| {
        InputError::in_file(path, format!("cannot read the secrets file: {e}"))
            .with_hint("create it with `rampart secrets edit FILE`")
    })?;
    let (label, text) = identity_source(identity)?;
    let ids = identities(&text, &label)?;
    let armored = age::armor::ArmoredReader::new(&data[..]);
    let decryptor = age::Decryptor::new(armored)
        .map_err(|e| InputError::in_file(path, format!("not an age-encrypted file: {e}")))?;
    let mut reader = decryptor.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity)).map_err(|e| {
        InputError::in_file(path, format!("cannot decrypt with the identity from {label}: {e}"))
            .with_hint("this file was encrypted for other recipients: use the matching identity, or re-encrypt it with `rampart secrets encrypt`")
    })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plain)
        .map_err(|e| InputError::in_file(path, format!("decryption failed: {e}")))?;
    let s = String::from_utf8(plain.to_vec())
        .map_err(|_| InputError::in_file(path, "the decrypted secrets are not UTF-8 text"))?;
    Ok(Zeroizing::new(s))
}

/// Parses decrypted TOML into named secrets. Errors never quote the content.
pub fn parse(path: &Path, text: &str) -> Result<BTreeMap<String, Secret>, InputError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let mut err = InputError::in_file(
            path,
            "the decrypted secrets are not valid TOML (the content is not shown: it is secret)",
        );
        if let Some(span) = e.span() {
            err.location = rampart_core::Location::from_offset(path, text, span.start);
        }
        err.with_hint("fix it with `rampart secrets edit FILE`")
    })?;
    let mut out = BTreeMap::new();
    flatten("", &toml::Value::Table(table), path, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    v: &toml::Value,
    path: &Path,
    out: &mut BTreeMap<String, Secret>,
) -> Result<(), InputError> {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}/{k}")
                };
                flatten(&name, v, path, out)?;
            }
            Ok(())
        }
        toml::Value::String(s) => {
            if s.len() < 4 {
                return Err(InputError::in_file(
                    path,
                    format!("secret `{prefix}` is shorter than 4 characters"),
                )
                .with_hint(
                    "use a real secret: short values cannot be redacted from output safely",
                ));
            }
            out.insert(prefix.to_owned(), Secret::new(s.clone()));
            Ok(())
        }
        other => Err(InputError::in_file(
            path,
            format!(
                "secret `{prefix}` is a {}, expected a string",
                other.type_str()
            ),
        )),
    }
}

/// Loads and decrypts the site's secrets.
pub fn load(path: &Path, identity: Option<&Path>) -> Result<BTreeMap<String, Secret>, CliError> {
    let plain = decrypt_file(path, identity)?;
    Ok(parse(path, &plain)?)
}

fn recipients_of(
    args: &[String],
    files: &[PathBuf],
    fallback_identity: Option<&Path>,
) -> Result<Vec<Box<dyn age::Recipient + Send>>, CliError> {
    let mut out: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    let mut lines: Vec<(String, String)> =
        args.iter().map(|r| (r.clone(), "-r".to_owned())).collect();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| InputError::in_file(f, format!("cannot read the recipients file: {e}")))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| (l.to_owned(), f.display().to_string())),
        );
    }
    for (r, from) in lines {
        let rec = age::x25519::Recipient::from_str(&r).map_err(|e| {
            InputError::in_file(
                Path::new(&from),
                format!("`{r}` is not an age recipient: {e}"),
            )
            .with_hint("a recipient starts with age1")
        })?;
        out.push(Box::new(rec));
    }
    if out.is_empty() {
        let (label, text) = identity_source(fallback_identity)?;
        let file = age::IdentityFile::from_buffer(text.as_bytes())
            .map_err(|e| CliError::internal(format!("{label}: {e}")))?;
        out = file
            .to_recipients()
            .map_err(|e| CliError::internal(format!("{label}: {e}")))?;
    }
    Ok(out)
}

fn encrypt_to(
    path: &Path,
    plain: &[u8],
    recipients: &[Box<dyn age::Recipient + Send>],
) -> Result<(), CliError> {
    let enc = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| CliError::internal(format!("cannot encrypt: {e}")))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        CliError::internal(format!("cannot create a file in {}: {e}", dir.display()))
    })?;
    {
        let armor = age::armor::ArmoredWriter::wrap_output(
            tmp.as_file_mut(),
            age::armor::Format::AsciiArmor,
        )
        .map_err(|e| CliError::internal(e.to_string()))?;
        let mut w = enc
            .wrap_output(armor)
            .map_err(|e| CliError::internal(e.to_string()))?;
        w.write_all(plain)
            .map_err(|e| CliError::internal(e.to_string()))?;
        w.finish()
            .and_then(|a| a.finish())
            .map_err(|e| CliError::internal(e.to_string()))?;
    }
    tmp.persist(path)
        .map_err(|e| CliError::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

/// `rampart secrets keygen`.
pub fn keygen(out: Option<&Path>) -> Result<(), CliError> {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    match out {
        Some(p) => {
            if p.exists() {
                return Err(InputError::in_file(
                    p,
                    "already exists; refusing to overwrite an identity",
                )
                .into());
            }
            if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(d).map_err(|e| CliError::internal(e.to_string()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode_0600()
                .open(p)
                .map_err(|e| CliError::internal(format!("{}: {e}", p.display())))?;
            f.write_all(text.as_bytes())
                .map_err(|e| CliError::internal(e.to_string()))?;
            eprintln!("wrote {} (keep it private)", p.display());
            println!("{public}");
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `rampart secrets encrypt`.
pub fn encrypt(
    input: &Path,
    out: &Path,
    recipients: &[String],
    recipient_files: &[PathBuf],
    identity: Option<&Path>,
) -> Result<(), CliError> {
    let plain = Zeroizing::new(
        std::fs::read_to_string(input)
            .map_err(|e| InputError::in_file(input, format!("cannot read: {e}")))?,
    );
    parse(input, &plain)?;
    let recs = recipients_of(recipients, recipient_files, identity)?;
    encrypt_to(out, plain.as_bytes(), &recs)?;
    eprintln!(
        "encrypted {} -> {} for {} recipient(s)",
        input.display(),
        out.display(),
        recs.len()
    );
    Ok(())
}

/// `rampart secrets decrypt`: the plaintext on stdout, for piping; never into a file by us.
pub fn decrypt(path: &Path, identity: Option<&Path>) -> Result<(), CliError> {
    let plain = decrypt_file(path, identity)?;
    std::io::stdout()
        .write_all(plain.as_bytes())
        .map_err(|e| CliError::internal(e.to_string()))?;
    Ok(())
}

/// `rampart secrets edit`: decrypt into a private temporary file, run $EDITOR, validate,
/// re-encrypt to the same recipients (`FILE.recipients` beside it, else the identity's own).
pub fn edit(path: &Path, identity: Option<&Path>) -> Result<(), CliError> {
    let plain = if path.exists() {
        decrypt_file(path, identity)?
    } else {
        Zeroizing::new("# name = \"value\"; [group] tables make names like group/name\n".to_owned())
    };
    let dir = tempfile::Builder::new()
        .prefix("rampart-secrets")
        .tempdir()
        .map_err(|e| CliError::internal(e.to_string()))?;
    let file = dir.path().join("secrets.toml");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_0600()
        .open(&file)
        .and_then(|mut f| f.write_all(plain.as_bytes()))
        .map_err(|e| CliError::internal(e.to_string()))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .map_err(|e| CliError::internal(format!("cannot run the editor `{editor}`: {e}")))?;
    let edited = Zeroizing::new(
        std::fs::read_to_string(&file).map_err(|e| CliError::internal(e.to_string()))?,
    );
    // Overwrite before the directory goes: the plaintext should not linger in free blocks
    // longer than it must.
    let _ = std::fs::write(&file, vec![0u8; edited.len()]);
    if !status.success() {
        return Err(CliError::internal(format!(
            "the editor exited with {status}; {} is unchanged",
            path.display()
        )));
    }
    parse(path, &edited)?;
    let rfile = PathBuf::from(format!("{}.recipients", path.display()));
    let files: Vec<PathBuf> = if rfile.exists() {
        vec![rfile]
    } else {
        Vec::new()
    };
    let recs = recipients_of(&[], &files, identity)?;
    encrypt_to(path, edited.as_bytes(), &recs)?;
    eprintln!("saved {} ({} recipient(s))", path.display(), recs.len());
    Ok(())
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    #[cfg(unix)]
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
    #[cfg(not(unix))]
    fn mode_0600(&mut self) -> &mut Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_tables_with_slashes_and_never_shows_values() {
        let s = parse(
            Path::new("s.age"),
            "top = \"abcd1234\"\n[redis]\nex_001 = \"canary-9f3\"\n",
        )
        .unwrap();
        assert_eq!(s.keys().collect::<Vec<_>>(), ["redis/ex_001", "top"]);
        assert_eq!(s["redis/ex_001"].expose(), "canary-9f3");
        let e = parse(Path::new("s.age"), "a = \"canary-9f3\"\nb = [").unwrap_err();
        assert!(!e.to_string().contains("canary"), "{e}");
        assert_eq!(e.location.line, Some(2));
        assert!(parse(Path::new("s.age"), "a = \"x\"").is_err());
    }

    #[test]
    fn round_trips_through_age() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let idf = dir.path().join("id");
        std::fs::write(&idf, id.to_string().expose_secret()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&idf, std::fs::Permissions::from_mode(0o640)).unwrap();
            let out = dir.path().join("x.age");
            let recs = recipients_of(&[id.to_public().to_string()], &[], None).unwrap();
            encrypt_to(&out, b"a = \"canary-admin\"\n", &recs).unwrap();
            let err = load(&out, Some(&idf)).unwrap_err().to_string();
            assert!(err.contains("readable by others (mode 0640)"), "{err}");
            assert!(err.contains("chmod 600"), "{err}");
            std::fs::set_permissions(&idf, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let out = dir.path().join("s.age");
        let recs = recipients_of(&[id.to_public().to_string()], &[], None).unwrap();
        encrypt_to(&out, b"[redis]\nadmin = \"canary-admin\"\n", &recs).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!text.contains("canary"));
        let s = load(&out, Some(&idf)).unwrap();
        assert_eq!(s["redis/admin"].expose(), "canary-admin");
        let other = dir.path().join("other");
        std::fs::write(
            &other,
            age::x25519::Identity::generate()
                .to_string()
                .expose_secret(),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = load(&out, Some(&other)).unwrap_err().to_string();
        assert!(err.contains("cannot decrypt with the identity"), "{err}");
    }
}
