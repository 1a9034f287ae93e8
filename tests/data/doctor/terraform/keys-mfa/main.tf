provider "aws" {
  region  = "us-west-2"
  profile = "base"

  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/admin"
  }
}
