//! Development tool: loads events/world.json (routes, templates, campaigns, registered
//! messages) into the table named by TABLE_NAME on the local endpoint, through the store's own
//! writes. `make dev` runs it once the local stack is deployed.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let aws = pipeline_tests::local_aws().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME (set by scripts/local-stack)");
    let store = shared::store::Store::new(aws_sdk_dynamodb::Client::new(&aws), &table);
    pipeline_tests::world::World::load()
        .seed(&store, true)
        .await;
    eprintln!("seeded events/world.json into {table}");
}
