//! TLS for HTTPS endpoints: the system's root certificates, or those of `ca_file`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::client::S3ConfigError;

/// The rustls client configuration verifying the endpoint against `ca_file`'s certificates,
/// or the system roots without one.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, S3ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|error| S3ConfigError::Read {
                what: "ca_file",
                path: path.to_path_buf(),
                error,
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(S3ConfigError::CaFile(path.to_path_buf()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(S3ConfigError::NoRoots);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|_| S3ConfigError::NoRoots)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
