//! `service()` and the `Service` it returns: `.component(name, |c| …)` adds a
//! component, configured later for every host it is placed on.

use std::sync::Arc;

use rhai::{Engine, FnPtr, NativeCallContext};

use super::names::check_name;
use super::{RhaiResult, call_span, document, script_error};
use crate::script::callback::Callback;
use crate::script::errors::register_type;
use crate::script::session::{ComponentDecl, ServiceDecl, Session};

/// A service, by name.
#[derive(Clone)]
pub(crate) struct ServiceHandle(String);

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    register_type::<ServiceHandle>(engine, "Service");

    let s = session.clone();
    document(
        engine,
        "service",
        &["name: string", "Service"],
        "Declares a service (in `services/<name>.rhai`); add its components with `.component(name, |c| …)`.",
        move |ctx: NativeCallContext, name: &str| -> RhaiResult<ServiceHandle> {
            check_name(&ctx, "service", name)?;
            let mut d = s.decl();
            if d.services.iter().any(|svc| svc.name == name) {
                return Err(script_error(
                    &ctx,
                    format!("service `{name}` is declared twice"),
                    "declare each service once, in services/<name>.rhai",
                ));
            }
            d.services.push(ServiceDecl {
                name: name.to_string(),
                components: Vec::new(),
            });
            Ok(ServiceHandle(name.to_string()))
        },
    );

    let s = session.clone();
    document(
        engine,
        "component",
        &["service: Service", "name: string", "configure: |c| …", "Service"],
        "Adds a component to the service: `configure` is called with the component context `c` for every host the component is placed on.",
        move |ctx: NativeCallContext,
              svc: &mut ServiceHandle,
              name: &str,
              configure: FnPtr|
              -> RhaiResult<ServiceHandle> {
            check_name(&ctx, "component", name)?;
            let mut d = s.decl();
            let service = d
                .services
                .iter_mut()
                .find(|x| x.name == svc.0)
                .expect("service handle without service");
            if service.components.iter().any(|c| c.name == name) {
                return Err(script_error(
                    &ctx,
                    format!("component `{name}` is declared twice in service `{}`", svc.0),
                    "give each component of a service its own name",
                ));
            }
            service.components.push(ComponentDecl {
                name: name.to_string(),
                span: call_span(&ctx),
                configure: Callback::new(&ctx, configure),
            });
            Ok(svc.clone())
        },
    );
}
