//! Accounts of the built-in sign-in.

use tessera::store::{AccountStore, User};
use tessera::{AccountId, LoginName, PasswordHash, StoreError, Timestamp};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::store::{corrupt, int, maybe_row, ms, rows, run};

type Result<T> = std::result::Result<T, StoreError>;

const COLUMNS: &str = "id, login, password, created_at";

fn user_of(r: &Row) -> Result<User> {
    Ok(User {
        id: r
            .get::<_, &str>(0)
            .parse()
            .map_err(|_| corrupt("account id"))?,
        login: LoginName::from_stored(r.get(1)),
        password: PasswordHash::from_stored(r.get(2)).map_err(|_| corrupt("password hash"))?,
        created_at: Timestamp::from_millis(r.get(3)),
    })
}

impl PostgresStore {
    async fn one_user(&self, filter: &str, value: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE {filter} = $1");
        maybe_row(&self.conn().await?, &sql, &[&value])
            .await?
            .as_ref()
            .map(user_of)
            .transpose()
    }
}

impl AccountStore for PostgresStore {
    async fn create_user(&self, user: &User) -> Result<bool> {
        let n = run(
            &self.conn().await?,
            "INSERT INTO accounts (id, login, password, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            &[
                &user.id.as_str(),
                &user.login.as_str(),
                &user.password.as_str(),
                &ms(user.created_at),
            ],
        )
        .await?;
        Ok(n == 1)
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>> {
        self.one_user("id", id.as_str()).await
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>> {
        self.one_user("login", login.as_str()).await
    }

    async fn set_password(&self, id: &AccountId, password: &PasswordHash) -> Result<bool> {
        let n = run(
            &self.conn().await?,
            "UPDATE accounts SET password = $2 WHERE id = $1",
            &[&id.as_str(), &password.as_str()],
        )
        .await?;
        Ok(n == 1)
    }

    async fn list_users(&self, after: Option<&LoginName>, limit: usize) -> Result<Vec<User>> {
        let sql =
            format!("SELECT {COLUMNS} FROM accounts WHERE login > $1 ORDER BY login LIMIT $2");
        rows(
            &self.conn().await?,
            &sql,
            &[&after.map_or("", LoginName::as_str), &int(limit as u64)],
        )
        .await?
        .iter()
        .map(user_of)
        .collect()
    }

    async fn delete_user(&self, id: &AccountId) -> Result<bool> {
        let n = run(
            &self.conn().await?,
            "DELETE FROM accounts WHERE id = $1",
            &[&id.as_str()],
        )
        .await?;
        Ok(n == 1)
    }
}
