-- The first logical schema. Logical names; `shardline migrate` applies each statement to every
-- physical table (users_0000 … users_1023 in their databases) and broadcast tables once per instance.
CREATE TABLE IF NOT EXISTS users (
  uid BIGINT UNSIGNED PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(255) NULL,
  balance DECIMAL(18,2) NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS orders (
  uid BIGINT UNSIGNED,
  order_id BIGINT UNSIGNED,
  amount DECIMAL(18,2),
  status ENUM('new','paid','shipped','cancelled'),
  created_at DATETIME(6),
  PRIMARY KEY (uid, order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS countries (
  code CHAR(2) PRIMARY KEY,
  name VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
