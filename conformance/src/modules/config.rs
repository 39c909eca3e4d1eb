//! `oidcc-config-certification-test-plan`: one module, the discovery document's verification.

use crate::report::Step;
use crate::{Ctx, discovery};

/// `oidcc-discovery-endpoint-verification`: the discovery document and the JWKS it points at
/// (the dynamic rules when the run registers its clients dynamically).
pub async fn oidcc_discovery_endpoint_verification(ctx: &mut Ctx) -> Step {
    let issuer = ctx.cfg().issuer.clone();
    let dynamic = ctx.cfg().dynamic;
    discovery::verify_discovery(&mut ctx.log, &ctx.http, &issuer, dynamic).await
}
