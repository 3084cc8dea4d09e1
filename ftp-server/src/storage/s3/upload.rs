//! Streaming uploads: a single `PUT` for an object smaller than one part, else a multipart
//! upload whose parts start at 8 MiB and grow (10,000 parts cover 5 TiB), with one part
//! being sent while the next fills (two parts in memory at most). Nothing is visible until
//! `CompleteMultipartUpload` succeeds; a failed or dropped upload is aborted, again and again
//! for ten minutes while the engine refuses.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_lite::io::AsyncWrite;

use super::client::{S3Client, MAX_COPY};
use crate::storage::{BoxFuture, Sha256, StorageError, Upload};

/// The first parts' size.
pub(crate) const FIRST_PART: u64 = 8 << 20;

/// The smallest part S3 accepts (but for the last): a resume keeping fewer bytes re-uploads
/// them instead of copying them.
pub(crate) const MIN_PART: u64 = 5 << 20;

/// The most parts an upload may have.
pub(crate) const MAX_PARTS: u16 = 10_000;

/// The size of part `n` (from 1): 8 MiB for the first thousand, doubling every thousand, so
/// that 10,000 parts hold 7.8 TiB (S3's largest object is 5 TiB) and a part is at most 4 GiB.
///
/// ```text
/// parts     1–1000: 8 MiB     1001–2000: 16 MiB   …   9001–10000: 4 GiB
/// ```
pub(crate) fn part_size(n: u16) -> u64 {
    let tier = u32::from(n.saturating_sub(1) / 1000);
    (FIRST_PART << tier).min(MAX_COPY)
}

/// An upload to one key.
pub(crate) struct S3Upload {
    client: Arc<S3Client>,
    key: Arc<str>,
    /// `STOU`: fail if the key exists at completion.
    create_new: bool,
    /// The part being filled.
    buf: Vec<u8>,
    /// Its number (from 1).
    part: u16,
    /// ETags of the parts sent, in order.
    etags: Vec<String>,
    upload_id: Option<Arc<str>>,
    /// `CreateMultipartUpload` under way.
    creating: Option<BoxFuture<'static, Result<String, StorageError>>>,
    /// The part being sent.
    in_flight: Option<smol::Task<Result<String, StorageError>>>,
    /// The digest of what was written ([`Upload::record_sha256`]), kept as the object's tag.
    sha256: Option<Sha256>,
    /// Committed or aborted already: nothing to clean up on drop.
    done: bool,
}

impl std::fmt::Debug for S3Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Upload")
            .field("key", &self.key)
            .field("part", &self.part)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl S3Upload {
    /// An upload of `key` that keeps the existing object's first `keep` bytes (`APPE`,
    /// `REST` + `STOR`): copied on the S3 side (`UploadPartCopy`) when they make a part of at
    /// least 5 MiB, else read and sent again with the new data.
    pub(crate) async fn start(
        client: Arc<S3Client>,
        key: String,
        create_new: bool,
        keep: u64,
    ) -> Result<S3Upload, StorageError> {
        let mut up = S3Upload {
            client,
            key: key.into(),
            create_new,
            buf: Vec::new(),
            part: 1,
            etags: Vec::new(),
            upload_id: None,
            creating: None,
            in_flight: None,
            sha256: None,
            done: false,
        };
        if keep == 0 {
            return Ok(up);
        }
        if keep < MIN_PART {
            up.buf = up.client.get_head_bytes(&up.key, keep).await?.to_vec();
            return Ok(up);
        }
        let id: Arc<str> = up.client.create_upload(&up.key).await?.into();
        up.upload_id = Some(id.clone());
        // Copy parts of at most 5 GiB each, all about the same size (each ≥ 5 MiB).
        let chunk = keep.div_ceil(keep.div_ceil(MAX_COPY));
        let mut from = 0;
        while from < keep {
            let to = (from + chunk).min(keep);
            let etag = up
                .client
                .upload_part_copy(&up.key, &id, up.part, &up.key, (from, to - 1))
                .await?; // dropping `up` aborts the upload
            up.etags.push(etag);
            up.part += 1;
            from = to;
        }
        Ok(up)
    }

    fn part_len(&self) -> usize {
        usize::try_from(part_size(self.part)).unwrap_or(usize::MAX)
    }

    /// Sends the full buffer as the next part: first an upload ID, then room (the previous
    /// part finished).
    fn poll_ship(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StorageError>> {
        if self.upload_id.is_none() {
            let fut = self.creating.get_or_insert_with(|| {
                let (client, key) = (self.client.clone(), self.key.clone());
                Box::pin(async move { client.create_upload(&key).await })
            });
            let id = ready!(fut.as_mut().poll(cx));
            self.creating = None;
            self.upload_id = Some(id?.into());
        }
        if let Some(task) = self.in_flight.as_mut() {
            let etag = ready!(Pin::new(task).poll(cx));
            self.in_flight = None;
            self.etags.push(etag?);
        }
        if self.part >= MAX_PARTS {
            return Poll::Ready(Err(StorageError::NoSpace));
        }
        let body = Bytes::from(std::mem::take(&mut self.buf));
        let (client, key) = (self.client.clone(), self.key.clone());
        let id = self.upload_id.clone().unwrap_or_default();
        let n = self.part;
        self.part += 1;
        self.in_flight = Some(smol::spawn(async move {
            client.upload_part(&key, &id, n, body).await
        }));
        Poll::Ready(Ok(()))
    }

    /// Everything after the last write: the last part (or the single `PUT`), then
    /// `CompleteMultipartUpload`.
    async fn finish(&mut self) -> Result<(), StorageError> {
        if let Some(fut) = self.creating.take() {
            self.upload_id = Some(fut.await?.into());
        }
        let body = Bytes::from(std::mem::take(&mut self.buf));
        let Some(id) = self.upload_id.clone() else {
            let digest = self.sha256.as_ref();
            return self
                .client
                .put(&self.key, body, self.create_new, digest)
                .await;
        };
        if let Some(task) = self.in_flight.take() {
            self.etags.push(task.await?);
        }
        if !body.is_empty() || self.etags.is_empty() {
            let etag = self
                .client
                .upload_part(&self.key, &id, self.part, body)
                .await?;
            self.etags.push(etag);
        }
        // Engines without conditional completion: a check just before it (not atomic).
        if self.create_new && self.client.head(&self.key).await?.is_some() {
            return Err(StorageError::AlreadyExists);
        }
        self.client
            .complete_upload(&self.key, &id, &self.etags, self.create_new)
            .await?;
        if let Some(d) = &self.sha256 {
            // Best effort: without the tag, `HASH` reads the object.
            // A completed upload is a new object, without tags.
            if let Err(e) = self.client.tag_new_sha256(&self.key, d).await {
                log::debug!("S3 {}: digest not kept ({e})", self.key);
            }
        }
        Ok(())
    }

    /// Aborts the multipart upload (if one was started), in the background.
    fn abort_in_background(&mut self) {
        self.done = true;
        self.in_flight = None;
        let (client, key) = (self.client.clone(), self.key.clone());
        let (id, creating) = (self.upload_id.take(), self.creating.take());
        if id.is_none() && creating.is_none() {
            return;
        }
        smol::spawn(async move {
            let id = match (id, creating) {
                (Some(id), _) => id.to_string(),
                (None, Some(fut)) => match fut.await {
                    Ok(id) => id,
                    Err(_) => return,
                },
                (None, None) => return,
            };
            abort_until_done(&client, &key, &id).await;
        })
        .detach();
    }
}

/// The pauses (seconds) between rounds of `AbortMultipartUpload` (each round one request
/// with its own retries): an engine that is down or refusing requests for up to ten minutes
/// still gets the abort once it is back.
const ABORT_PAUSES: [u64; 10] = [1, 2, 4, 8, 16, 30, 60, 120, 180, 180];

/// Aborts upload `id` of `key`, trying again after each pause of [`ABORT_PAUSES`]; after
/// the last, the bucket's lifecycle rule is left to remove it.
async fn abort_until_done(client: &S3Client, key: &str, id: &str) {
    let mut pauses = ABORT_PAUSES.iter();
    loop {
        let Err(e) = client.abort_upload(key, id).await else {
            return;
        };
        let Some(&pause) = pauses.next() else {
            log::warn!("S3 {key}: abort of an unfinished upload failed ({e}); the bucket's lifecycle rule removes it");
            return;
        };
        log::debug!("S3 {key}: abort failed ({e}); again in {pause} s");
        async_io::Timer::after(std::time::Duration::from_secs(pause)).await;
    }
}

fn to_io(e: StorageError) -> io::Error {
    io::Error::other(e)
}

impl AsyncWrite for S3Upload {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let part = this.part_len();
            if this.buf.len() < part {
                let n = (part - this.buf.len()).min(data.len());
                // Grow by doubling up to the part size (a power of two): small files stay small.
                let want = this.buf.len() + n;
                if this.buf.capacity() < want {
                    let cap = want.max(this.buf.capacity() * 2).min(part);
                    this.buf.reserve_exact(cap - this.buf.len());
                }
                this.buf.extend_from_slice(&data[..n]);
                return Poll::Ready(Ok(n));
            }
            ready!(this.poll_ship(cx)).map_err(to_io)?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Upload for S3Upload {
    fn record_sha256(&mut self, digest: Sha256) {
        self.sha256 = Some(digest);
    }

    fn keeps_sha256(&self) -> bool {
        true
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            let mut this = self;
            let r = this.finish().await;
            match &r {
                Ok(()) => this.done = true,
                Err(_) => this.abort_in_background(),
            }
            r
        })
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        if !self.done {
            self.abort_in_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_parts_cover_five_tib_and_parts_stay_within_limits() {
        let total: u64 = (1..=MAX_PARTS).map(part_size).sum();
        assert!(total >= 5 << 40, "{total}");
        assert_eq!(part_size(1), 8 << 20);
        assert_eq!(part_size(1000), 8 << 20);
        assert_eq!(part_size(1001), 16 << 20);
        assert!((1..=MAX_PARTS).all(|n| (MIN_PART..=MAX_COPY).contains(&part_size(n))));
    }
}
