//! events/world.json loaded into a table through the store's own management writes.

use serde::Deserialize;
use shared::store::{NewCampaign, NewTemplate, PhoneRoute, Registration, Store};
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
pub struct World {
    pub tenants: Vec<Tenant>,
    pub templates: Vec<Template>,
    pub campaigns: Vec<Campaign>,
    pub direct_messages: Vec<Message>,
    pub unregistered_wamid: String,
}

#[derive(Debug, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub wabas: Vec<Waba>,
}

#[derive(Debug, Deserialize)]
pub struct Waba {
    pub id: String,
    pub phone_numbers: Vec<Phone>,
}

#[derive(Debug, Deserialize)]
pub struct Phone {
    pub phone_number_id: String,
    pub display_phone_number: String,
}

#[derive(Debug, Deserialize)]
pub struct Template {
    pub id: String,
    pub tenant: String,
    pub waba: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub quality: String,
}

#[derive(Debug, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub template_id: String,
    pub phone_number_id: String,
    pub status: String,
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Message {
    #[serde(rename = "ref")]
    pub reference: String,
    pub wamid: String,
    pub recipient: String,
}

impl World {
    /// events/world.json.
    pub fn load() -> Self {
        serde_json::from_slice(&crate::fixture("world.json")).expect("world.json")
    }

    /// `(tenant, wamid)` of a message reference such as `c-acme-1/m1` or `direct/voice-1`.
    pub fn message(&self, reference: &str) -> (String, String) {
        for c in &self.campaigns {
            if let Some(m) = c.messages.iter().find(|m| m.reference == reference) {
                return (c.tenant.clone(), m.wamid.clone());
            }
        }
        let tenant = self.tenant_of_direct(reference);
        let m = self
            .direct_messages
            .iter()
            .find(|m| m.reference == reference)
            .unwrap_or_else(|| panic!("no message {reference}"));
        (tenant, m.wamid.clone())
    }

    fn tenant_of_direct(&self, _reference: &str) -> String {
        "acme".to_owned()
    }

    /// The tenant of a campaign.
    pub fn campaign(&self, id: &str) -> &Campaign {
        self.campaigns
            .iter()
            .find(|c| c.id == id)
            .expect("campaign")
    }

    /// Routes, templates and campaigns; messages registered unless `register` is false.
    pub async fn seed(&self, store: &Store, register: bool) {
        let mut waba_of_phone = HashMap::new();
        for t in &self.tenants {
            for w in &t.wabas {
                store.put_waba_route(&w.id, &t.id).await.unwrap();
                for p in &w.phone_numbers {
                    waba_of_phone.insert(p.phone_number_id.clone(), w.id.clone());
                    let route = PhoneRoute {
                        tenant_id: t.id.clone(),
                        waba_id: w.id.clone(),
                        display_phone_number: Some(p.display_phone_number.clone()),
                    };
                    store
                        .put_phone_route(&p.phone_number_id, &route)
                        .await
                        .unwrap();
                }
            }
        }
        for t in &self.templates {
            let template = NewTemplate {
                template_id: t.id.parse().unwrap(),
                waba_id: Some(t.waba.clone()),
                name: t.name.clone(),
                language: t.language.clone(),
                category: t.category.clone(),
                status: t.status.clone(),
                quality: t.quality.clone(),
            };
            store.create_template(&t.tenant, &template).await.unwrap();
        }
        for c in &self.campaigns {
            let campaign = NewCampaign {
                campaign_id: c.id.clone(),
                name: Some(c.name.clone()),
                template_id: c.template_id.parse().unwrap(),
                phone_number_id: c.phone_number_id.clone(),
                waba_id: waba_of_phone.get(&c.phone_number_id).cloned(),
                status: c.status.clone(),
            };
            store.create_campaign(&c.tenant, &campaign).await.unwrap();
            if register {
                self.register_campaign(store, &c.id).await;
            }
        }
    }

    /// Registers every message of one campaign (the sender's acknowledgements).
    pub async fn register_campaign(&self, store: &Store, campaign_id: &str) {
        let c = self.campaign(campaign_id);
        for m in &c.messages {
            self.register(store, &m.reference).await;
        }
    }

    /// Registers one message by reference.
    pub async fn register(&self, store: &Store, reference: &str) {
        let c = self
            .campaigns
            .iter()
            .find(|c| c.messages.iter().any(|m| m.reference == reference))
            .expect("campaign message");
        let m = c
            .messages
            .iter()
            .find(|m| m.reference == reference)
            .unwrap();
        let registration = Registration {
            wamid: m.wamid.clone(),
            campaign_id: c.id.clone(),
            recipient_id: Some(m.recipient.clone()),
            template_id: c.template_id.parse().ok(),
            expires_at: None,
        };
        store
            .register_message(&c.tenant, &registration)
            .await
            .unwrap();
    }
}
