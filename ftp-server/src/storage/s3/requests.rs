//! The S3 operations, one method each: objects, listings, copies, multipart uploads, the
//! bucket check and its lifecycle rule.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2, ListObjectsV2Response};
use rusty_s3::S3Action;

use super::client::{xml_tag, Failure, ObjectHead, Retry, S3Client};
use super::http::BodyReader;
use crate::storage::{Sha256, StorageError};
use ftp_proto::hash::to_hex;

/// The metadata key `MFMT` sets (seconds since the Unix epoch, with a fraction), as rclone
/// writes it.
pub(crate) const MTIME_HEADER: &str = "x-amz-meta-mtime";

/// The object tag that keeps a file's SHA-256 (64 hex digits), set by our uploads
/// ([`S3Client::put`], or `PutObjectTagging` after a multipart upload) and after a computed
/// `HASH`. A tag, not user metadata: it can be added to an existing object without copying
/// it, and copies (`RNTO`, `MFMT`, `SITE CPTO`) carry it along; any write of other content
/// makes a new object without it.
pub(crate) const SHA256_TAG: &str = "ftp-sha256";

/// The lifecycle rule's ID.
const RULE_ID: &str = "ftp-server-abort-incomplete-multipart-uploads";

/// One page of a listing.
pub(crate) type Page = ListObjectsV2Response;

impl S3Client {
    /// `HEAD` of an object: `None` if there is none.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StorageError> {
        let action = self.bucket.head_object(Some(&self.credentials), key);
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, key);
        match self.fetch(&call).await {
            Ok(r) => {
                let len = r
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let modified = r
                    .header(MTIME_HEADER)
                    .and_then(parse_unix_seconds)
                    .or_else(|| r.header("last-modified").and_then(parse_http_date));
                let etag = r.header("etag").map(str::to_string);
                Ok(Some(ObjectHead {
                    len,
                    modified,
                    etag,
                }))
            }
            Err(f) if f.is_status(404) => Ok(None),
            Err(f) => Err(f.storage()),
        }
    }

    /// A small object's bytes, read whole (at most 8 MiB, such as a users file); `None` if
    /// there is none.
    pub(crate) async fn get_small(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let action = self.bucket.get_object(Some(&self.credentials), key);
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, key);
        match self.fetch(&call).await {
            Ok(r) => Ok(Some(r.body)),
            Err(f) if f.is_status(404) => Ok(None),
            Err(f) => Err(f.storage()),
        }
    }

    /// The object's bytes from `offset` on, streamed (empty at or past its end).
    pub(crate) async fn get(
        &self,
        key: &str,
        offset: u64,
    ) -> Result<Option<BodyReader>, StorageError> {
        let range = [("range", format!("bytes={offset}-"))];
        let headers: &[(&str, String)] = if offset > 0 { &range } else { &[] };
        let action = self.bucket.get_object(Some(&self.credentials), key);
        let call = self.call(action, headers, Bytes::new(), Retry::Idempotent, key);
        match self.execute(&call).await {
            Ok(resp) => Ok(Some(resp.into_reader())),
            Err(f) if f.is_status(416) => Ok(None),
            Err(f) => Err(f.storage()),
        }
    }

    /// Bytes `0..len` of an object, read whole (for small resumes).
    pub(crate) async fn get_head_bytes(&self, key: &str, len: u64) -> Result<Bytes, StorageError> {
        let range = [("range", format!("bytes=0-{}", len.saturating_sub(1)))];
        let action = self.bucket.get_object(Some(&self.credentials), key);
        let call = self.call(action, &range, Bytes::new(), Retry::Idempotent, key);
        let resp = self.execute(&call).await?;
        let body = resp
            .bytes(usize::try_from(len).unwrap_or(usize::MAX))
            .await
            .map_err(|_| StorageError::Unavailable)?;
        match body.len() as u64 == len {
            true => Ok(body),
            false => Err(StorageError::Unavailable),
        }
    }

    /// `PUT` of a whole object; `create_new` adds `If-None-Match: *` (fails with
    /// [`StorageError::AlreadyExists`] where the engine supports it); `sha256` tags the object
    /// with its digest ([`SHA256_TAG`]) in the same request.
    pub(crate) async fn put(
        &self,
        key: &str,
        body: Bytes,
        create_new: bool,
        sha256: Option<&Sha256>,
    ) -> Result<(), StorageError> {
        let mut headers = Vec::new();
        if create_new {
            headers.push(("if-none-match", "*".to_string()));
        }
        if let Some(d) = sha256 {
            headers.push(("x-amz-tagging", format!("{SHA256_TAG}={}", to_hex(d))));
        }
        let action = self.bucket.put_object(Some(&self.credentials), key);
        let call = self.call(action, &headers, body, Retry::Idempotent, key);
        self.fetch(&call).await?;
        Ok(())
    }

    /// `GetObjectTagging`: the object's tags as (key, value) pairs; [`StorageError::NotFound`]
    /// when there is no such object.
    pub(crate) async fn tags(&self, key: &str) -> Result<Vec<(String, String)>, StorageError> {
        let mut action = self.bucket.get_object(Some(&self.credentials), key);
        action.query_mut().insert("tagging", "");
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, key);
        let r = self.fetch(&call).await?;
        Ok(parse_tags(&r.text()))
    }

    /// `PutObjectTagging`: replaces the object's tags by `tags`.
    pub(crate) async fn put_tags(
        &self,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), StorageError> {
        use base64::Engine as _;
        use md5::Digest as _;
        let body: String = tags
            .iter()
            .map(|(k, v)| {
                let (k, v) = (xml_escape(k), xml_escape(v));
                format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>")
            })
            .collect();
        let body = Bytes::from(format!("<Tagging><TagSet>{body}</TagSet></Tagging>"));
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action.query_mut().insert("tagging", "");
        let headers = [("content-md5", md5)];
        let call = self.call(action, &headers, body, Retry::Idempotent, key);
        self.fetch(&call).await?;
        Ok(())
    }

    /// The digest [`SHA256_TAG`] keeps for `key`: `None` when the object has none (or the
    /// engine keeps no tags), [`StorageError::NotFound`] when there is no object.
    pub(crate) async fn sha256_tag(&self, key: &str) -> Result<Option<Sha256>, StorageError> {
        match self.tags(key).await {
            Ok(tags) => Ok(tags
                .iter()
                .find(|(k, _)| k == SHA256_TAG)
                .and_then(|(_, v)| from_hex(v))),
            Err(StorageError::NotFound) => Err(StorageError::NotFound),
            Err(_) => Ok(None),
        }
    }

    /// Tags `key` with `digest` ([`SHA256_TAG`]), keeping its other tags.
    pub(crate) async fn tag_sha256(&self, key: &str, digest: &Sha256) -> Result<(), StorageError> {
        let mut tags = self.tags(key).await?;
        tags.retain(|(k, _)| k != SHA256_TAG);
        tags.push((SHA256_TAG.to_string(), to_hex(digest)));
        self.put_tags(key, &tags).await
    }

    /// Tags an object that has no tags yet (one just completed) with `digest`: no
    /// `GetObjectTagging` first, unlike [`S3Client::tag_sha256`].
    pub(crate) async fn tag_new_sha256(
        &self,
        key: &str,
        digest: &Sha256,
    ) -> Result<(), StorageError> {
        let tag = (SHA256_TAG.to_string(), to_hex(digest));
        self.put_tags(key, &[tag]).await
    }

    /// `DELETE` of an object (S3 answers the same whether it existed or not).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let action = self.bucket.delete_object(Some(&self.credentials), key);
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, key);
        self.fetch(&call).await?;
        Ok(())
    }

    /// One page of `ListObjectsV2` under `prefix`: with `delimiter`, one level (common
    /// prefixes for subdirectories); without, every key below.
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        delimiter: bool,
        token: Option<&str>,
        max_keys: usize,
    ) -> Result<Page, StorageError> {
        let mut action = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
        action.with_prefix(prefix);
        if delimiter {
            action.with_delimiter("/");
        }
        if let Some(t) = token {
            action.with_continuation_token(t);
        }
        action.with_max_keys(max_keys);
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, prefix);
        let r = self.fetch(&call).await?;
        ListObjectsV2::parse_response(&r.text()).map_err(|e| {
            log::warn!("S3 listing of {prefix:?}: unreadable response: {e}");
            StorageError::Unavailable
        })
    }

    /// The `x-amz-copy-source` value naming `key` in this bucket.
    fn copy_source(&self, key: &str) -> String {
        let url = self.bucket.object_url(key);
        match self.path_style {
            true => url.path().to_string(),
            false => format!("/{}{}", self.bucket.name(), url.path()),
        }
    }

    /// `CopyObject` (at most [`super::client::MAX_COPY`] bytes); with `mtime`, the copy's
    /// metadata is replaced by that modification time (`MFMT` copies an object onto itself).
    pub(crate) async fn copy(
        &self,
        from: &str,
        to: &str,
        mtime: Option<SystemTime>,
    ) -> Result<(), StorageError> {
        let mut headers = vec![("x-amz-copy-source", self.copy_source(from))];
        if let Some(t) = mtime {
            headers.push(("x-amz-metadata-directive", "REPLACE".to_string()));
            headers.push((MTIME_HEADER, unix_seconds(t)));
        }
        let action = self.bucket.put_object(Some(&self.credentials), to);
        let call = self.call(action, &headers, Bytes::new(), Retry::Idempotent, to);
        let r = self.fetch(&call).await?;
        // A copy can fail after its 200 has been sent: the error is then the body.
        check_body(&r.text(), to)
    }

    /// `CreateMultipartUpload`: the upload ID.
    pub(crate) async fn create_upload(&self, key: &str) -> Result<String, StorageError> {
        let action = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), key);
        // A second upload after a lost answer is harmless (the lifecycle rule removes it).
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, key);
        let r = self.fetch(&call).await?;
        CreateMultipartUpload::parse_response(&r.text())
            .map(|u| u.upload_id().to_string())
            .map_err(|_| StorageError::Unavailable)
    }

    /// `UploadPart`: the part's ETag.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u16,
        body: Bytes,
    ) -> Result<String, StorageError> {
        let action = self
            .bucket
            .upload_part(Some(&self.credentials), key, part, upload_id);
        let call = self.call(action, &[], body, Retry::Idempotent, key);
        let r = self.fetch(&call).await?;
        r.header("etag")
            .map(str::to_string)
            .ok_or(StorageError::Unavailable)
    }

    /// `UploadPartCopy` of bytes `range` (inclusive end) of `from`: the part's ETag.
    pub(crate) async fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        part: u16,
        from: &str,
        range: (u64, u64),
    ) -> Result<String, StorageError> {
        let headers = [
            ("x-amz-copy-source", self.copy_source(from)),
            (
                "x-amz-copy-source-range",
                format!("bytes={}-{}", range.0, range.1),
            ),
        ];
        let action = self
            .bucket
            .upload_part(Some(&self.credentials), key, part, upload_id);
        let call = self.call(action, &headers, Bytes::new(), Retry::Idempotent, key);
        let r = self.fetch(&call).await?;
        let text = r.text();
        check_body(&text, key)?;
        xml_tag(&text, "ETag").ok_or(StorageError::Unavailable)
    }

    /// `CompleteMultipartUpload` with the parts' ETags in order (parts 1, 2, ...).
    pub(crate) async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
        create_new: bool,
    ) -> Result<(), StorageError> {
        let action = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let cond = [("if-none-match", "*".to_string())];
        let headers: &[(&str, String)] = if create_new { &cond } else { &[] };
        let mut action = action;
        for (k, v) in headers {
            action.headers_mut().insert(*k, v.clone());
        }
        let url = action.sign(super::client::SIGNATURE_VALIDITY);
        let body = Bytes::from(action.body());
        let call = super::client::Call::signed(
            hyper::Method::POST,
            url,
            headers,
            body,
            Retry::ConnectOnly,
            key,
        );
        let r = self.fetch(&call).await?;
        check_body(&r.text(), key)
    }

    /// `AbortMultipartUpload` (its parts are deleted; no object appears).
    pub(crate) async fn abort_upload(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StorageError> {
        let action = self
            .bucket
            .abort_multipart_upload(Some(&self.credentials), key, upload_id);
        let call = self.call(action, &[], Bytes::new(), Retry::Idempotent, key);
        match self.fetch(&call).await {
            Ok(_) => Ok(()),
            Err(f) if f.is_status(404) => Ok(()),
            Err(f) => Err(f.storage()),
        }
    }

    /// Checks that the bucket exists and the credentials work: one line saying which failed.
    pub async fn check_bucket(&self) -> Result<(), String> {
        let action = self.bucket.head_bucket(Some(&self.credentials));
        let mut call = self.call(action, &[], Bytes::new(), Retry::Idempotent, "bucket");
        call.quiet = true;
        let name = self.bucket.name();
        match self.fetch(&call).await {
            Ok(_) => Ok(()),
            Err(Failure::Status { status: 404, .. }) => {
                Err(format!("S3 bucket {name:?} does not exist"))
            }
            Err(Failure::Status {
                status: 403 | 401, ..
            }) => Err(format!(
                "S3 credentials refused for bucket {name:?} (check the access key ID and secret)"
            )),
            Err(Failure::Status { status, code }) => Err(format!(
                "S3 bucket {name:?}: unexpected answer {status} {code}"
            )),
            Err(Failure::Transport(e)) => Err(format!("S3 bucket {name:?}: {e}")),
        }
    }

    /// Makes sure the bucket has a lifecycle rule that removes multipart uploads left
    /// incomplete for a day (a server killed mid-upload cannot abort its own): adds one to
    /// the bucket's lifecycle configuration unless a rule with
    /// `AbortIncompleteMultipartUpload` is there already. `Ok(true)` when it added one.
    pub async fn ensure_lifecycle_rule(&self, prefix: &str) -> Result<bool, String> {
        let name = self.bucket.name().to_string();
        let fail = |what: &str, f: Failure| {
            format!("S3 bucket {name:?}: {what} the lifecycle configuration: {f:?}")
        };
        let current = match self
            .bucket_subresource(hyper::Method::GET, "lifecycle", Bytes::new())
            .await
        {
            Ok(text) => Some(text),
            Err(f) if f.is_status(404) => None,
            Err(f) => return Err(fail("reading", f)),
        };
        let Some(body) = lifecycle_with_rule(current.as_deref(), prefix) else {
            return Ok(false);
        };
        self.bucket_subresource(hyper::Method::PUT, "lifecycle", Bytes::from(body))
            .await
            .map_err(|f| fail("writing", f))?;
        Ok(true)
    }

    /// A request on a bucket subresource (`?lifecycle`), signed by hand: rusty-s3 has no
    /// action for it.
    async fn bucket_subresource(
        &self,
        method: hyper::Method,
        name: &str,
        body: Bytes,
    ) -> Result<String, Failure> {
        let mut headers = Vec::new();
        if !body.is_empty() {
            use base64::Engine as _;
            use md5::Digest as _;
            let md5 = md5::Md5::digest(&body);
            headers.push((
                "content-md5",
                base64::engine::general_purpose::STANDARD.encode(md5),
            ));
        }
        let s3_method = match method {
            hyper::Method::PUT => rusty_s3::Method::Put,
            _ => rusty_s3::Method::Get,
        };
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            s3_method,
            self.bucket.base_url().clone(),
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            super::client::SIGNATURE_VALIDITY.as_secs(),
            [(name, "")].into_iter(),
            headers.iter().map(|(k, v)| (*k, v.as_str())),
        );
        let call =
            super::client::Call::signed(method, url, &headers, body, Retry::Idempotent, name);
        let r = self.fetch(&call).await?;
        Ok(r.text().into_owned())
    }
}

/// The (key, value) pairs of a `GetObjectTagging` answer.
///
/// ```text
/// <Tagging><TagSet><Tag><Key>ftp-sha256</Key><Value>9f86…</Value></Tag></TagSet></Tagging>
/// ```
fn parse_tags(xml: &str) -> Vec<(String, String)> {
    xml.split("<Tag>")
        .skip(1)
        .filter_map(|t| Some((xml_tag(t, "Key")?, xml_tag(t, "Value")?)))
        .collect()
}

/// `text` with XML's special characters escaped.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// 64 hex digits as a digest.
fn from_hex(s: &str) -> Option<Sha256> {
    let s = s.trim().as_bytes();
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(s.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// A `200` whose body is an `<Error>` (copies and completions can fail that way).
fn check_body(text: &str, key: &str) -> Result<(), StorageError> {
    if !text.contains("<Error>") {
        return Ok(());
    }
    let code = xml_tag(text, "Code").unwrap_or_default();
    log::warn!("S3 {key}: {code} after a 200");
    Err(Failure::Status { status: 500, code }.storage())
}

/// The lifecycle configuration to write: `current` (or a new one) with our rule added, or
/// `None` when a rule already aborts incomplete uploads.
///
/// ```text
/// <LifecycleConfiguration><Rule><ID>…</ID><Filter><Prefix>site1/</Prefix></Filter>
/// <Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1
/// </DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>
/// ```
pub(crate) fn lifecycle_with_rule(current: Option<&str>, prefix: &str) -> Option<String> {
    let prefix = xml_escape(prefix);
    let rule = format!(
        "<Rule><ID>{RULE_ID}</ID><Filter><Prefix>{prefix}</Prefix></Filter><Status>Enabled</Status>\
         <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>\
         </AbortIncompleteMultipartUpload></Rule>"
    );
    let close = "</LifecycleConfiguration>";
    match current {
        Some(c) if c.contains("<AbortIncompleteMultipartUpload>") => None,
        Some(c) if c.contains(close) => {
            let at = c.rfind(close).unwrap_or(c.len());
            Some(format!("{}{rule}{}", &c[..at], &c[at..]))
        }
        _ => Some(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{rule}{close}"
        )),
    }
}

/// `SystemTime` as `x-amz-meta-mtime` holds it: seconds, with nanoseconds when not whole.
pub(crate) fn unix_seconds(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    match d.subsec_nanos() {
        0 => d.as_secs().to_string(),
        n => format!("{}.{n:09}", d.as_secs()),
    }
}

/// Parses [`unix_seconds`] (and rclone's form of it).
pub(crate) fn parse_unix_seconds(s: &str) -> Option<SystemTime> {
    let (secs, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    let secs: u64 = secs.parse().ok()?;
    let mut nanos = 0u32;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        let n: u32 = digits.parse().ok()?;
        nanos = n * 10u32.pow(9 - digits.len() as u32);
    }
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Parses an HTTP date (`Last-Modified`).
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let ts = jiff::fmt::rfc2822::parse(s).ok()?.timestamp();
    Some(SystemTime::from(ts))
}

/// Parses a listing's `LastModified` (RFC 3339).
pub(crate) fn parse_iso_date(s: &str) -> Option<SystemTime> {
    s.parse::<jiff::Timestamp>().ok().map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtimes_round_trip_and_dates_parse() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(unix_seconds(t), "1700000000.120000000");
        assert_eq!(parse_unix_seconds(&unix_seconds(t)), Some(t));
        assert_eq!(
            parse_unix_seconds("1700000000.12"),
            Some(t),
            "rclone's shorter fraction"
        );
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_unix_seconds("1700000000"), Some(whole));
        assert_eq!(
            parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"),
            Some(whole)
        );
        assert_eq!(parse_iso_date("2023-11-14T22:13:20.000Z"), Some(whole));
        assert_eq!(parse_unix_seconds("soon"), None);
    }

    #[test]
    fn the_lifecycle_rule_is_added_once_and_keeps_other_rules() {
        let new = lifecycle_with_rule(None, "site/").unwrap();
        assert!(new.contains("<Prefix>site/</Prefix>") && new.contains("<DaysAfterInitiation>1<"));
        assert_eq!(lifecycle_with_rule(Some(&new), "site/"), None);
        let other = "<LifecycleConfiguration><Rule><ID>x</ID></Rule></LifecycleConfiguration>";
        let merged = lifecycle_with_rule(Some(other), "").unwrap();
        assert!(merged.starts_with("<LifecycleConfiguration><Rule><ID>x</ID></Rule><Rule><ID>ftp"));
        assert!(merged.ends_with("</Rule></LifecycleConfiguration>"));
    }

    #[test]
    fn xml_tags_are_found_and_unescaped() {
        let body = "<CopyPartResult><ETag>&quot;abc&quot;</ETag></CopyPartResult>";
        assert_eq!(xml_tag(body, "ETag").as_deref(), Some("\"abc\""));
        assert!(check_body("<Error><Code>InternalError</Code></Error>", "k").is_err());
        assert!(check_body(body, "k").is_ok());
    }
}
