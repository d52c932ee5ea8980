//! Built-in providers that are exactly one [`Generic`] configuration.
//!
//! Paddle, Square, Intercom and Typeform sign a plain HMAC the generic verifier already
//! describes; what makes them a provider is only a name, the headers worth keeping, a retry
//! horizon and an example body. [`Preset`] is that pairing, so no scheme code is duplicated:
//! verification, extraction and signing all run through [`Generic`].

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::generic::{Generic, GenericConfig};
use crate::{
    BuildError, EventMeta, ExtractError, Provider, Request, Secret, Secrets, SignError,
    SignRequest, VerifyError,
};

/// Writes an example body from an event id and type.
pub type ExampleBody = fn(event_id: &str, event_type: &str) -> Vec<u8>;

/// A named [`Generic`] configuration (see the module docs).
#[derive(Clone)]
pub struct Preset {
    name: &'static str,
    inner: Generic,
    kept_headers: &'static [&'static str],
    retry_horizon: Duration,
    example_body: ExampleBody,
}

impl fmt::Debug for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preset")
            .field("name", &self.name)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Preset {
    /// Compile `config`; an error here is a bug in the built-in configuration (each one has a
    /// test that builds it).
    pub fn new(
        name: &'static str,
        config: GenericConfig,
        tolerance: Duration,
        kept_headers: &'static [&'static str],
        retry_horizon: Duration,
        example_body: ExampleBody,
    ) -> Result<Self, BuildError> {
        Ok(Preset {
            name,
            inner: Generic::new(config, tolerance)?,
            kept_headers,
            retry_horizon,
            example_body,
        })
    }
}

impl Provider for Preset {
    fn name(&self) -> &'static str {
        self.name
    }

    fn verify(
        &self,
        req: &Request<'_>,
        secrets: &Secrets,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.inner.verify(req, secrets, now)
    }

    fn events(&self, req: &Request<'_>) -> Result<Vec<EventMeta>, ExtractError> {
        self.inner.events(req)
    }

    fn kept_headers(&self) -> &'static [&'static str] {
        self.kept_headers
    }

    fn example_body(&self, event_id: &str, event_type: &str) -> Vec<u8> {
        (self.example_body)(event_id, event_type)
    }

    fn sign(
        &self,
        req: &SignRequest<'_>,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        self.inner.sign(req, secret, now)
    }

    fn retry_horizon(&self) -> Duration {
        self.retry_horizon
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), BuildError> {
        self.inner.check_secret(secret)
    }
}
