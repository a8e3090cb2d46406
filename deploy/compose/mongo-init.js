// Runs once, on the first start of an empty MongoDB volume (docker-entrypoint-initdb.d),
// signed in as the root user: creates the platform's own user, readWrite on its database
// only. The name and password come from the container's environment, never from this file.
const database = process.env.MONGODB_DB || "classifier";
db.getSiblingDB(database).createUser({
  user: process.env.MONGO_APP_USER,
  pwd: process.env.MONGO_APP_PASSWORD,
  roles: [{ role: "readWrite", db: database }],
});
