//! The vault token (`ai_json_cryptoken`) for the admin commands.
//!
//! It comes from an environment variable (`--token-env VAR`, default
//! `AI_JSON_CRYPTOKEN`) or, when that is unset or empty and stdin is a
//! terminal, from a prompt that does not echo. It is never taken as a
//! command-line argument (that would land in shell history and `ps`), and it
//! is never printed: [`Token`]'s `Debug` is redacted and no message here
//! quotes it.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::fmt;
use std::io::IsTerminal;

/// The environment variable read when `--token-env` is not given.
pub const DEFAULT_TOKEN_ENV: &str = "AI_JSON_CRYPTOKEN";

/// The vault token. Only [`Token::expose`] gives the text.
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Whether a prompted token must be typed twice (when it makes a new vault,
/// a typo would lock the vault for good).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    Once,
    Twice,
}

/// Where the token comes from, decided from the variable's value and
/// whether stdin is a terminal.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    Env(String),
    Prompt,
    Missing,
    NotUnicode,
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn choose(value: Option<OsString>, stdin_is_tty: bool) -> Source {
    match value.map(OsString::into_string) {
        Some(Ok(v)) if !v.is_empty() => Source::Env(v),
        Some(Err(_)) => Source::NotUnicode,
        _ if stdin_is_tty => Source::Prompt,
        _ => Source::Missing,
    }
}

/// Reads the token named by `--token-env`.
pub fn read(var: &str, confirm: Confirm) -> Result<Token> {
    if !is_env_name(var) {
        // Do not echo it: someone may have passed the token itself here.
        bail!(
            "--token-env takes the NAME of an environment variable (letters, digits, '_'), \
             not the token itself"
        );
    }
    match choose(std::env::var_os(var), std::io::stdin().is_terminal()) {
        Source::Env(v) => Ok(Token(v)),
        Source::NotUnicode => bail!("environment variable {var} is not valid UTF-8"),
        Source::Missing => bail!(
            "no vault token: set the environment variable {var} (or name another one with \
             --token-env), or run from a terminal to be prompted; the token is never taken \
             as an argument"
        ),
        Source::Prompt => prompt(var, confirm),
    }
}

fn prompt(var: &str, confirm: Confirm) -> Result<Token> {
    let first = rpassword::prompt_password(format!("Vault token ({var} is not set): "))
        .context("reading the token from the terminal")?;
    if first.is_empty() {
        bail!("empty vault token");
    }
    if confirm == Confirm::Twice {
        let again = rpassword::prompt_password("Repeat the token: ").context("reading the token from the terminal")?;
        if again != first {
            bail!("the two tokens typed do not match");
        }
    }
    Ok(Token(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for ok in ["AI_JSON_CRYPTOKEN", "_X", "a1", "SPIN_VARIABLE_AI_JSON_CRYPTOKEN"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "with space", "s3cr3t!", "tök"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn source_is_env_then_prompt_on_a_tty_else_missing() {
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(choose(some("tok"), false), Source::Env("tok".into()));
        assert_eq!(choose(some("tok"), true), Source::Env("tok".into()));
        // Spaces are part of the token, exactly as `openssl -pass env:` reads it.
        assert_eq!(choose(some(" tok "), false), Source::Env(" tok ".into()));
        assert_eq!(choose(some(""), true), Source::Prompt);
        assert_eq!(choose(None, true), Source::Prompt);
        assert_eq!(choose(some(""), false), Source::Missing);
        assert_eq!(choose(None, false), Source::Missing);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let bad = OsString::from_vec(vec![0xff, 0xfe]);
            assert_eq!(choose(Some(bad), false), Source::NotUnicode);
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = Token("hunter2-secret".into());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        assert_eq!(t.expose(), "hunter2-secret");
    }

    #[test]
    fn a_token_given_as_the_variable_name_is_not_echoed() {
        let err = read("s3cr3t!-token", Confirm::Once).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
