//! Routes from phone number ids and WABA ids to tenants, cached per container: routing items
//! change rarely, and a batch of 1000 statuses usually names one or two numbers.

use crate::store::{PhoneRoute, Route, Store, StoreError};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a route (or its absence) is trusted before it is read again.
const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct RouteCache {
    phones: Mutex<HashMap<String, (Instant, Option<PhoneRoute>)>>,
    wabas: Mutex<HashMap<String, (Instant, Option<Route>)>>,
}

/// The routes one batch needs.
#[derive(Debug, Default)]
pub(super) struct Routes {
    phones: HashMap<String, Option<PhoneRoute>>,
    wabas: HashMap<String, Option<Route>>,
}

impl Routes {
    /// The tenant a status belongs to: the owner of its phone number, which must belong to the
    /// WABA the entry came under. Otherwise a reason for refusing it.
    pub fn phone(&self, phone_number_id: &str, entry_waba_id: &str) -> Result<&str, &'static str> {
        match self.phones.get(phone_number_id).and_then(Option::as_ref) {
            None => Err("unknown_phone_number"),
            Some(route) if route.waba_id != entry_waba_id => Err("phone_waba_mismatch"),
            Some(route) => match self.waba(entry_waba_id) {
                Some(tenant) if tenant != route.tenant_id => Err("phone_waba_mismatch"),
                _ => Ok(&route.tenant_id),
            },
        }
    }

    /// The tenant owning a WABA.
    pub fn waba(&self, waba_id: &str) -> Option<&str> {
        self.wabas
            .get(waba_id)
            .and_then(Option::as_ref)
            .map(|r| r.tenant_id.as_str())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked mid-insert; the map is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RouteCache {
    /// Routes for the given ids, reading only those not cached (or expired).
    pub async fn resolve(
        &self,
        store: &Store,
        phones: &BTreeSet<String>,
        wabas: &BTreeSet<String>,
    ) -> Result<Routes, StoreError> {
        let now = Instant::now();
        let fresh = |at: &Instant| now.duration_since(*at) < TTL;
        let mut routes = Routes::default();
        let mut missing_phones = Vec::new();
        let mut missing_wabas = Vec::new();
        {
            let cached = lock(&self.phones);
            for p in phones {
                match cached.get(p) {
                    Some((at, route)) if fresh(at) => {
                        routes.phones.insert(p.clone(), route.clone());
                    }
                    _ => missing_phones.push(p.clone()),
                }
            }
        }
        {
            let cached = lock(&self.wabas);
            for w in wabas {
                match cached.get(w) {
                    Some((at, route)) if fresh(at) => {
                        routes.wabas.insert(w.clone(), route.clone());
                    }
                    _ => missing_wabas.push(w.clone()),
                }
            }
        }
        if missing_phones.is_empty() && missing_wabas.is_empty() {
            return Ok(routes);
        }
        let (found_phones, found_wabas) = store.routes(&missing_phones, &missing_wabas).await?;
        let mut cached = lock(&self.phones);
        for p in missing_phones {
            let route = found_phones.get(&p).cloned();
            cached.insert(p.clone(), (now, route.clone()));
            routes.phones.insert(p, route);
        }
        drop(cached);
        let mut cached = lock(&self.wabas);
        for w in missing_wabas {
            let route = found_wabas.get(&w).cloned();
            cached.insert(w.clone(), (now, route.clone()));
            routes.wabas.insert(w, route);
        }
        Ok(routes)
    }
}
