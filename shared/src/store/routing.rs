//! Routing items: which tenant owns a phone number id and a WABA id.

use super::expr::Expr;
use super::{dynamo, key, keys, n, now, s, Item, Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde::Deserialize;
use std::collections::HashMap;

/// The owner of a phone number id, and the WABA it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhoneRoute {
    pub tenant_id: String,
    pub waba_id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
}

/// The owner of a WABA id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Route {
    pub tenant_id: String,
}

impl Store {
    /// Routes a phone number id to a tenant (and records the number under the tenant).
    pub async fn put_phone_route(
        &self,
        phone_number_id: &str,
        route: &PhoneRoute,
    ) -> Result<(), StoreError> {
        let mut item = key(keys::phone_route(phone_number_id), keys::ROUTE_SK);
        item.insert("entity".into(), s("route"));
        item.insert("tenant_id".into(), s(&route.tenant_id));
        item.insert("waba_id".into(), s(&route.waba_id));
        item.insert("phone_number_id".into(), s(phone_number_id));
        if let Some(display) = &route.display_phone_number {
            item.insert("display_phone_number".into(), s(display));
        }
        item.insert("updated_at".into(), n(now()));
        // The tenant's phone item is updated, not replaced: it keeps the number's quality.
        let mut phone = Expr::new();
        phone.set("entity", s("phone_number"));
        for k in [
            "waba_id",
            "phone_number_id",
            "display_phone_number",
            "updated_at",
        ] {
            if let Some(v) = item.get(k) {
                phone.set(k, v.clone());
            }
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        self.update(
            key(keys::tenant(&route.tenant_id), keys::phone(phone_number_id)),
            phone,
            None,
        )
        .await?;
        Ok(())
    }

    /// Routes a WABA id to a tenant.
    pub async fn put_waba_route(&self, waba_id: &str, tenant_id: &str) -> Result<(), StoreError> {
        let mut item = key(keys::waba_route(waba_id), keys::ROUTE_SK);
        item.insert("entity".into(), s("route"));
        item.insert("tenant_id".into(), s(tenant_id));
        item.insert("waba_id".into(), s(waba_id));
        item.insert("updated_at".into(), n(now()));
        item.insert("gsi1pk".into(), s(keys::ROUTED_WABAS));
        item.insert("gsi1sk".into(), s(keys::tenant_waba(tenant_id, waba_id)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// The WABAs routed to `tenant_id`, or to every tenant (`None`), as (tenant, WABA) pairs.
    pub async fn routed_wabas(
        &self,
        tenant_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut pairs = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .expression_attribute_values(":pk", s(keys::ROUTED_WABAS))
                .set_exclusive_start_key(start.take());
            q = match tenant_id {
                Some(t) => q
                    .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :prefix)")
                    .expression_attribute_values(":prefix", s(keys::tenant_waba(t, ""))),
                None => q.key_condition_expression("gsi1pk = :pk"),
            };
            let out = q.send().await.map_err(dynamo)?;
            for item in out.items.unwrap_or_default() {
                let field = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                if let (Some(t), Some(w)) = (field("tenant_id"), field("waba_id")) {
                    pairs.push((t, w));
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(pairs),
            }
        }
    }

    /// Looks up many routes in one request per 100 keys. Missing ids are absent from the maps.
    pub async fn routes(
        &self,
        phone_number_ids: &[String],
        waba_ids: &[String],
    ) -> Result<(HashMap<String, PhoneRoute>, HashMap<String, Route>), StoreError> {
        let wanted: Vec<(bool, &String, Item)> = phone_number_ids
            .iter()
            .map(|p| (true, p, key(keys::phone_route(p), keys::ROUTE_SK)))
            .chain(
                waba_ids
                    .iter()
                    .map(|w| (false, w, key(keys::waba_route(w), keys::ROUTE_SK))),
            )
            .collect();
        let mut phones = HashMap::new();
        let mut wabas = HashMap::new();
        for chunk in wanted.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|(_, _, k)| k.clone()).collect()))
                    .build()
                    .map_err(|_| StoreError::Refused("empty key batch"))?,
            );
            let mut attempts = 0;
            while let Some(request) = pending.take() {
                attempts += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(dynamo)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let pk = match item.get("pk") {
                        Some(AttributeValue::S(pk)) => pk.clone(),
                        _ => continue,
                    };
                    if let Some(id) = pk.strip_prefix("ROUTE#PHONE#") {
                        phones.insert(id.to_owned(), serde_dynamo::from_item(item)?);
                    } else if let Some(id) = pk.strip_prefix("ROUTE#WABA#") {
                        wabas.insert(id.to_owned(), serde_dynamo::from_item(item)?);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() && attempts >= 5 {
                    return Err(StoreError::Refused("routing read kept being throttled"));
                }
            }
        }
        Ok((phones, wabas))
    }
}
