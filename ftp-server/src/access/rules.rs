//! [`Rules`]: the access rules a user, a group or the server-wide `[user_defaults]` set, and
//! how they inherit. Every key is listed once, in `rule_keys!`: that list makes the
//! [`Rules`] fields, [`Rules::inherit`], and the keys of `[[user]]`, `[[group]]` and
//! `[user_defaults]` in the files. A new per-user key is one line there (and the code that
//! enforces it).

/// Calls `$m!` with its arguments followed by every rule key (doc, name and the type its
/// value has in the files).
macro_rules! rule_keys {
    ($m:ident! $args:tt) => {
        $m! { $args
            /// Most simultaneous sessions of the user; over it `PASS` answers `530`.
            max_sessions: std::num::NonZeroUsize,
            /// Where the user may log in from (CIDR blocks); elsewhere `PASS` answers `530`.
            allowed_ips: Vec<$crate::access::IpNet>,
            /// Logins only over TLS (`AUTH TLS` first, or implicit FTPS).
            require_tls: bool,
            /// Mode bits taken away from new files and directories (`"022"` or `0o022`).
            umask: $crate::access::FileMode,
            /// Mode of uploaded files, before the umask (`"644"`; default `666`).
            file_mode: $crate::access::FileMode,
            /// Mode of directories `MKD` creates, before the umask (`"755"`; default `777`).
            dir_mode: $crate::access::FileMode,
            /// Bytes the user may store (see Quotas and limits).
            quota_bytes: u64,
            /// Files the user may store.
            quota_files: u64,
            /// Bytes a second for all of the user's downloads together.
            download_rate: std::num::NonZeroU64,
            /// Bytes a second for all of the user's uploads together.
            upload_rate: std::num::NonZeroU64,
        }
    };
}
pub(crate) use rule_keys;

/// Declares [`Rules`] and its inheritance from the key list.
macro_rules! rules_struct {
    ({} $($(#[doc = $doc:literal])* $key:ident: $ty:ty,)*) => {
        /// Access rules: every key is optional; what a user leaves unset comes from its
        /// groups (in the order it names them), then from the server-wide
        /// `[user_defaults]` of the config file, then from the built-in default.
        ///
        /// ```
        /// use ftp_server::access::Rules;
        /// let mut user = Rules { require_tls: Some(false), ..Rules::default() };
        /// let group = Rules { require_tls: Some(true), max_sessions: std::num::NonZeroUsize::new(2),
        ///                     ..Rules::default() };
        /// user.inherit(&group);
        /// assert_eq!((user.require_tls, user.max_sessions.unwrap().get()), (Some(false), 2));
        /// ```
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Rules {
            $($(#[doc = $doc])* pub $key: Option<$ty>,)*
        }

        impl Rules {
            /// Takes from `from` every key this one leaves unset.
            pub fn inherit(&mut self, from: &Rules) {
                $(if self.$key.is_none() {
                    self.$key.clone_from(&from.$key);
                })*
            }
        }
    };
}
rule_keys!(rules_struct! {});

/// Declares a file entry (`[[user]]`, `[[group]]`, `[user_defaults]`): its own fields,
/// then every rule key, with `rules()` collecting the latter.
macro_rules! entry_with_rules {
    ({
        $(#[$attr:meta])*
        $vis:vis struct $name:ident { $($(#[$fattr:meta])* $field:ident: $fty:ty,)* }
    } $($(#[doc = $doc:literal])* $key:ident: $ty:ty,)*) => {
        $(#[$attr])*
        $vis struct $name {
            $($(#[$fattr])* $field: $fty,)*
            $(#[serde(default)] $key: Option<$ty>,)*
        }

        impl $name {
            /// The rule keys this entry sets.
            #[allow(dead_code)]
            $vis fn rules(&self) -> $crate::access::Rules {
                $crate::access::Rules { $($key: self.$key.clone(),)* }
            }
        }
    };
}
pub(crate) use entry_with_rules;

/// Permission bits for new files or directories, or a umask: octal, at most `777`. In the
/// files a string of octal digits (`"022"`) or a TOML octal integer (`0o022`).
///
/// ```
/// use ftp_server::access::FileMode;
/// assert_eq!("0755".parse::<FileMode>().unwrap(), FileMode(0o755));
/// assert!("800".parse::<FileMode>().is_err() && "1777".parse::<FileMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

/// A mode that is not octal digits up to `777`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a mode (octal digits up to 777, like \"022\" or \"644\")")]
pub struct FileModeError(String);

impl std::str::FromStr for FileMode {
    type Err = FileModeError;

    fn from_str(s: &str) -> Result<FileMode, FileModeError> {
        u32::from_str_radix(s.trim(), 8)
            .ok()
            .filter(|&m| m <= 0o777 && !s.trim().starts_with('+'))
            .map(FileMode)
            .ok_or_else(|| FileModeError(s.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FileMode, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an octal mode like \"022\" or 0o022")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FileMode, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&m| m <= 0o777)
                    .map(FileMode)
                    .ok_or_else(|| E::custom(FileModeError(format!("{v:#o}"))))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FileMode, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Rules {
    /// The modes new files and directories get: `file_mode`/`dir_mode` without the bits of
    /// `umask`, or `None` when none of the three is set (the backend's own default: `666` and
    /// `777` less the process umask).
    ///
    /// ```
    /// use ftp_server::access::{FileMode, Rules};
    /// let r = Rules { umask: Some(FileMode(0o027)), ..Rules::default() };
    /// assert_eq!(r.create_modes(), Some((0o640, 0o750)));
    /// assert_eq!(Rules::default().create_modes(), None);
    /// ```
    pub fn create_modes(&self) -> Option<(u32, u32)> {
        if self.umask.is_none() && self.file_mode.is_none() && self.dir_mode.is_none() {
            return None;
        }
        let umask = self.umask.map_or(0o022, |m| m.0);
        let file = self.file_mode.map_or(0o666, |m| m.0);
        let dir = self.dir_mode.map_or(0o777, |m| m.0);
        Some((file & !umask, dir & !umask))
    }
}
