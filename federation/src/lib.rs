//! Upstream sign-in connectors: generic OpenID Connect, Microsoft Entra ID, Google Workspace and
//! Active Directory over LDAP, with home-realm discovery.
//!
//! Empty so far: the connectors arrive with the federation work ("Federation: sign-in brokered
//! to Microsoft Entra ID, Google Workspace, …"). This crate will know nothing of Poort's own
//! endpoints.
