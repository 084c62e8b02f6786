// Run by the compose service `mongo-init` (mongosh, connected to mongo1): initiates the
// three-member replica set rs0 once, then waits until it has a primary. Safe to run again:
// on an initiated set it only waits for the primary.
const replicaSet = {
  _id: "rs0",
  members: [
    { _id: 0, host: "mongo1:27017", priority: 2 },
    { _id: 1, host: "mongo2:27017", priority: 1 },
    { _id: 2, host: "mongo3:27017", priority: 1 },
  ],
};

try {
  rs.status();
  print("replica set rs0 already initiated");
} catch (error) {
  if (error.code !== 94 && error.codeName !== "NotYetInitialized") {
    throw error;
  }
  rs.initiate(replicaSet);
  print("replica set rs0 initiated");
}

for (let second = 0; second < 120; second++) {
  const hello = db.hello();
  if (hello.primary) {
    print(`replica set rs0 has a primary: ${hello.primary}`);
    quit(0);
  }
  sleep(1000);
}
print("replica set rs0 has no primary after 120 s");
quit(1);
